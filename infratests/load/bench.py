"""Generator benchmark: wrk (C) and our Locust runner against the same URL, one after the other.

One run measures wrk with a thread per core, then Locust: one process, the
same process writing the per-request history (its cost per request), and
every core (a master plus a worker per core). ``ratio`` is wrk's rate per
Locust's all-core rate: a capacity knee far below Locust's all-core rate is
the system's; one near it may be the generator's. The runs never overlap
(running two at once would split the CPU).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from infratests.load import preflight
from infratests.load.machine import usable_cores
from infratests.load.result import LoadResult
from infratests.load.runner import LoadSpec, run_load
from infratests.load.wrk import WrkResult, run_wrk

__all__ = ["BenchResult", "bench_load"]


@dataclass(frozen=True)
class BenchResult:
    url: str
    duration_s: float
    cores: int
    users_per_process: int
    wrk: WrkResult
    one_process: LoadResult
    one_process_history: LoadResult
    all_cores: LoadResult

    @property
    def per_process_rps(self) -> float:
        """The all-core rate per worker process."""
        return self.all_cores.rps / self.cores

    @property
    def ratio(self) -> float:
        """wrk req/s per Locust all-core req/s (inf when Locust made no requests)."""
        return self.wrk.rps / self.all_cores.rps if self.all_cores.rps else float("inf")

    @property
    def history_cost_us(self) -> float | None:
        """Extra time per request of one saturated Locust process when it writes the history."""
        with_history, without = self.one_process_history.rps, self.one_process.rps
        if not with_history or not without:
            return None
        return max(0.0, 1e6 / with_history - 1e6 / without)

    def to_dict(self) -> dict[str, Any]:
        def locust(result: LoadResult) -> dict[str, Any]:
            return {"rps": result.rps, "requests": result.requests, "failures": result.failures,
                    "cpu_cores": dict(result.cpu_cores)}

        return {"url": self.url, "duration_s": self.duration_s, "cores": self.cores,
                "users_per_process": self.users_per_process, "wrk": self.wrk.to_dict(),
                "locust_one_process": locust(self.one_process),
                "locust_one_process_with_history": locust(self.one_process_history),
                "locust_all_cores": locust(self.all_cores), "locust_per_process_rps": self.per_process_rps,
                "ratio_wrk_to_locust_all_cores": self.ratio,
                "ratio_wrk_to_locust_one_process": self.wrk.rps / self.one_process.rps if self.one_process.rps
                else float("inf"),
                "history_cost_us_per_request": self.history_cost_us}


def bench_load(url: str, duration_s: float = 5.0, users_per_process: int = 10, cores: int | None = None,
               workdir: Path | None = None) -> BenchResult:
    """wrk and Locust's maximum rates on ``url`` (closed loop, ``users_per_process`` each)."""
    preflight.probe_host(url)
    cores = cores or usable_cores()
    wrk = run_wrk(url, duration_s, connections=users_per_process * cores, threads=cores)
    parts = urlsplit(url)
    base = LoadSpec("fixed_get", f"{parts.scheme}://{parts.netloc}", users=users_per_process,
                    duration_s=duration_s, history=False,
                    env={"INFRATESTS_PATH": (parts.path or "/") + (f"?{parts.query}" if parts.query else "")})
    runs = {"one": base, "history": replace(base, history=True),
            "all": replace(base, users=users_per_process * cores, workers=cores)}
    with tempfile.TemporaryDirectory(prefix="infratests-locust-") as scratch:
        root = workdir or Path(scratch)  # without a workdir only the rates are kept
        results = {name: run_load(spec, root / name) for name, spec in runs.items()}
    return BenchResult(url, duration_s, cores, users_per_process, wrk, results["one"], results["history"],
                       results["all"])
