"""The frozen outcome of one Locust run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infratests.history import History
from infratests.load.history import load_history
from infratests.load.procs import CpuSample
from infratests.load.stats import EndpointStats

__all__ = ["LoadResult", "cpu_cores"]


@dataclass(frozen=True)
class LoadResult:
    """Aggregate (``total``) and per-endpoint stats, artefact paths and how the run ended.

    ``source`` is ``"locust"`` (its JSON stats) or ``"history"`` (Locust was
    killed before writing them). ``cpu_cores`` is each Locust process's CPU
    use while users ran, in cores (1.0 = one core busy).
    """

    total: EndpointStats
    endpoints: tuple[EndpointStats, ...]
    history_path: Path
    log_path: Path
    stats_path: Path | None
    exit_code: int | None
    deadline_hit: bool
    source: str
    wall_s: float
    cpu_cores: Mapping[str, float] = field(default_factory=dict)

    @property
    def requests(self) -> int:
        return self.total.requests

    @property
    def failures(self) -> int:
        return self.total.failures

    @property
    def error_rate(self) -> float:
        return self.total.error_rate

    @property
    def p50_ms(self) -> float:
        return self.total.p50_ms

    @property
    def p95_ms(self) -> float:
        return self.total.p95_ms

    @property
    def p99_ms(self) -> float:
        return self.total.p99_ms

    @property
    def rps(self) -> float:
        return self.total.rps

    def endpoint(self, name: str, method: str | None = None) -> EndpointStats:
        for entry in self.endpoints:
            if entry.name == name and method in (None, entry.method):
                return entry
        raise KeyError(f"no endpoint {method or ''} {name} in this run")

    def history(self, indeterminate_statuses: frozenset[int] = frozenset()) -> History:
        return load_history(self.history_path, indeterminate_statuses)

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total.to_dict(),
            "endpoints": [entry.to_dict() for entry in self.endpoints],
            "history_path": str(self.history_path), "log_path": str(self.log_path),
            "stats_path": None if self.stats_path is None else str(self.stats_path),
            "exit_code": self.exit_code, "deadline_hit": self.deadline_hit, "source": self.source,
            "wall_s": self.wall_s, "cpu_cores": dict(self.cpu_cores),
        }


def cpu_cores(samples: list[CpuSample], start: float, end: float) -> dict[str, float]:
    """Per role: CPU seconds / wall seconds between the samples inside [start, end] (else all)."""
    result: dict[str, float] = {}
    for role in sorted({sample.role for sample in samples}):
        mine = [s for s in samples if s.role == role]
        inside = [s for s in mine if start <= s.wall <= end]
        chosen = inside if len(inside) >= 2 else mine
        if len(chosen) >= 2 and chosen[-1].wall > chosen[0].wall:
            result[role] = (chosen[-1].cpu_s - chosen[0].cpu_s) / (chosen[-1].wall - chosen[0].wall)
    return result
