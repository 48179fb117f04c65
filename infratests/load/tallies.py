"""One step's figures from two marks of the capacity shape (``locustfiles/capacity_shape.py``).

A mark holds every Locust process's cumulative tally at one instant; the
step is the difference between the mark at its start and the mark at its
end: requests, failures by cause, latency percentiles (Locust's buckets and
rule), and for each process its CPU use and its *busy* fraction, CPU plus
the time it waited for a CPU while runnable. A generator process whose busy
fraction is near 1 could not have sent faster, whether a core was its own or
shared with the system under test.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from infratests.errors import ServiceError
from infratests.load.stats import percentile

__all__ = ["Cause", "Generator", "Window", "read_mark", "window"]


@dataclass(frozen=True)
class Cause:
    """Why requests failed: ``HTTP 429``, ``ConnectionResetError``...; ``status`` 0 when no answer came."""

    key: str
    status: int
    count: int
    sample: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Generator:
    """One Locust process during the step: CPU cores used, and busy = used + waited for a CPU."""

    node: str
    role: str
    host: str
    container: bool
    cpu_cores: float
    busy: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Window:
    seconds: float
    users: int
    requests: int
    failures: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    causes: tuple[Cause, ...]
    generators: tuple[Generator, ...]
    missing: tuple[str, ...]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    @property
    def error_rate(self) -> float:
        return self.failures / self.requests if self.requests else 0.0


def read_mark(path: Path) -> dict[str, Any]:
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError) as exc:
        raise ServiceError(f"capacity mark {path} cannot be read: {exc}", path) from exc


def window(begin: Mapping[str, Any], end: Mapping[str, Any]) -> Window:
    """The step between two marks (processes are matched by their node id)."""
    before = {process["node"]: process for process in begin["processes"]}
    buckets: Counter[float] = Counter()
    causes: dict[str, Cause] = {}
    requests = failures = 0
    generators = []
    for process in end["processes"]:
        start = before.get(process["node"], _EMPTY)
        requests += process["requests"] - start["requests"]
        failures += process["failures"] - start["failures"]
        buckets.update({float(k): v - int(start["buckets"].get(k, 0)) for k, v in process["buckets"].items()})
        _add_causes(causes, process["causes"], start["causes"])
        generators.append(_generator(start, process))
    buckets = +buckets  # drop empty buckets
    return Window(
        seconds=float(end["wall"]) - float(begin["wall"]), users=int(end["users"]), requests=requests,
        failures=failures, p50_ms=percentile(buckets, requests, 0.50), p95_ms=percentile(buckets, requests, 0.95),
        p99_ms=percentile(buckets, requests, 0.99),
        causes=tuple(sorted(causes.values(), key=lambda cause: -cause.count)),
        generators=tuple(generators), missing=tuple(end.get("missing", ())))


_EMPTY: Mapping[str, Any] = {"requests": 0, "failures": 0, "buckets": {}, "causes": {}}


def _add_causes(into: dict[str, Cause], now: Mapping[str, Any], before: Mapping[str, Any]) -> None:
    for key, entry in now.items():
        count = int(entry["count"]) - int(before.get(key, {}).get("count", 0))
        if count <= 0:
            continue
        known = into.get(key)
        into[key] = Cause(key, int(entry["status"]), count + (known.count if known else 0),
                          known.sample if known else str(entry["sample"]))


def _generator(start: Mapping[str, Any], end: Mapping[str, Any]) -> Generator:
    """A process that joined during the step (no start tally) counts from its own first figures: none."""
    wall = float(end["wall"]) - float(start.get("wall", end["wall"]))
    cpu = float(end["cpu_s"]) - float(start.get("cpu_s", end["cpu_s"]))
    waited = float(end["wait_s"]) - float(start.get("wait_s", end["wait_s"]))
    return Generator(str(end["node"]), str(end["role"]), str(end["host"]), bool(end["container"]),
                     cpu / wall if wall > 0 else 0.0, (cpu + waited) / wall if wall > 0 else 0.0)
