"""Request statistics of one Locust run: per endpoint and aggregated.

The primary source is Locust's ``--json-file`` output (one entry per
endpoint, no aggregated row): the aggregate merges the endpoints'
response-time buckets and uses Locust's own percentile rule. When Locust was
SIGKILLed and wrote no JSON, the same figures are computed from the
per-request history instead (``source == "history"``).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["EndpointStats", "aggregate", "percentile", "stats_from_locust_json", "stats_from_rows"]


@dataclass(frozen=True, slots=True)
class EndpointStats:
    """Counts, latency percentiles (ms) and throughput (req/s) of one endpoint or of all."""

    method: str
    name: str
    requests: int
    failures: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    rps: float
    start: float = 0.0
    end: float = 0.0

    @property
    def error_rate(self) -> float:
        return self.failures / self.requests if self.requests else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "error_rate": self.error_rate}


def percentile(buckets: Mapping[float, int], total: int, fraction: float) -> float:
    """Locust's rule: the largest bucket value with at most ``fraction`` of the requests below it."""
    if total <= 0:
        return 0.0
    wanted = int(total * fraction)
    seen = 0
    for value in sorted(buckets, reverse=True):
        seen += buckets[value]
        if total - seen <= wanted:
            return float(value)
    return 0.0


def _entry(method: str, name: str, buckets: Mapping[float, int], requests: int, failures: int,
           start: float, end: float) -> EndpointStats:
    span = end - start
    return EndpointStats(
        method, name, requests, failures,
        percentile(buckets, requests, 0.50), percentile(buckets, requests, 0.95),
        percentile(buckets, requests, 0.99), requests / span if span > 0 else 0.0, start, end,
    )


def _from_raw(raw: Mapping[str, Any]) -> tuple[EndpointStats, Counter[float]]:
    buckets = Counter({float(key): int(count) for key, count in raw["response_times"].items()})
    entry = _entry(raw["method"] or "", raw["name"], buckets, int(raw["num_requests"]),
                   int(raw["num_failures"]), float(raw["start_time"] or 0.0),
                   float(raw["last_request_timestamp"] or 0.0))
    return entry, buckets


def aggregate(parts: Sequence[tuple[EndpointStats, Counter[float]]]) -> EndpointStats:
    """One "Aggregated" entry over endpoints (merged buckets, earliest start, latest end)."""
    buckets: Counter[float] = Counter()
    for _, part in parts:
        buckets.update(part)
    entries = [entry for entry, _ in parts if entry.requests]
    start = min((e.start for e in entries), default=0.0)
    end = max((e.end for e in entries), default=0.0)
    return _entry("", "Aggregated", buckets, sum(e.requests for e in entries),
                  sum(e.failures for e in entries), start, end)


def stats_from_locust_json(path: Path) -> tuple[EndpointStats, tuple[EndpointStats, ...]]:
    """(aggregate, per-endpoint) from a ``--json-file`` output."""
    parts = [_from_raw(raw) for raw in json.loads(path.read_text())]
    return aggregate(parts), tuple(sorted((entry for entry, _ in parts), key=lambda e: (e.name, e.method)))


def _rounded(latency_ms: float) -> float:
    # Same bucketing as Locust, so both sources give comparable percentiles.
    if latency_ms < 100:
        return float(round(latency_ms))
    if latency_ms < 1000:
        return float(round(latency_ms, -1))
    return float(round(latency_ms, -2))


def stats_from_rows(rows: Iterable[Mapping[str, Any]]) -> tuple[EndpointStats, tuple[EndpointStats, ...]]:
    """(aggregate, per-endpoint) from history rows; a failure is any row with an error."""
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["method"], row["name"]), []).append(row)
    parts = []
    for (method, name), group in sorted(groups.items(), key=lambda item: (item[0][1], item[0][0])):
        buckets = Counter(_rounded(float(row["latency_ms"])) for row in group)
        start = min(float(row["wall"]) for row in group)
        end = max(float(row["wall"]) + float(row["latency_ms"]) / 1000 for row in group)
        failures = sum(1 for row in group if row.get("error"))
        parts.append((_entry(method, name, buckets, len(group), failures, start, end), buckets))
    return aggregate(parts), tuple(entry for entry, _ in parts)
