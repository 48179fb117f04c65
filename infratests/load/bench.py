"""Generator benchmark: wrk (C) and our Locust runner against the same URL for the same time.

The ratio ``wrk_rps / locust_rps`` says how much headroom a C generator has
over Locust on this machine: a capacity knee far below wrk's rate is the
system's, a knee near Locust's own maximum may be the generator's. The two
run one after the other (running both at once would split the CPU).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from infratests.errors import ServiceError, UnsupportedOperation
from infratests.load import preflight
from infratests.load.runner import LoadSpec, run_load

__all__ = ["BenchResult", "bench_load", "run_wrk"]

_RATE = re.compile(r"^Requests/sec:\s+([0-9.]+)", re.MULTILINE)


@dataclass(frozen=True)
class BenchResult:
    url: str
    duration_s: float
    connections: int
    wrk_rps: float
    locust_rps: float
    locust_users: int
    locust_workers: int
    locust_cpu_cores: float

    @property
    def ratio(self) -> float:
        """wrk req/s per Locust req/s (inf when Locust made no requests)."""
        return self.wrk_rps / self.locust_rps if self.locust_rps else float("inf")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio}


def run_wrk(url: str, duration_s: float, connections: int = 10, threads: int = 1) -> float:
    """wrk's Requests/sec for ``url`` (raises UnsupportedOperation when wrk is not installed)."""
    binary = shutil.which("wrk")
    if binary is None:
        raise UnsupportedOperation("wrk is not installed (apt-get install wrk)", "wrk")
    argv = [binary, f"-t{threads}", f"-c{max(connections, threads)}", f"-d{max(1, round(duration_s))}s", url]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=duration_s + 30,
                              start_new_session=True, check=False)
    except subprocess.TimeoutExpired as exc:
        raise ServiceError(f"wrk did not finish within {duration_s + 30:g} s", argv) from exc
    match = _RATE.search(done.stdout)
    if done.returncode != 0 or match is None:
        raise ServiceError(f"wrk failed (exit {done.returncode}): {(done.stderr or done.stdout)[-500:]}", argv)
    return float(match.group(1))


def bench_load(url: str, duration_s: float = 5.0, connections: int = 10, threads: int = 1,
               users: int | None = None, workers: int = 0, workdir: Path | None = None) -> BenchResult:
    """Both generators' max rates on ``url`` (Locust: ``users`` closed-loop users, default = connections)."""
    parts = urlsplit(url)
    preflight.probe_host(url)
    wrk_rps = run_wrk(url, duration_s, connections, threads)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    users = users or connections
    spec = LoadSpec("fixed_get", f"{parts.scheme}://{parts.netloc}", users=users, duration_s=duration_s,
                    workers=workers, env={"INFRATESTS_PATH": path})
    if workdir is None:  # only the rates are kept: Locust's files go with their temporary directory
        with tempfile.TemporaryDirectory(prefix="infratests-locust-") as scratch:
            result = run_load(spec, Path(scratch))
    else:
        result = run_load(spec, workdir)
    return BenchResult(url, duration_s, connections, wrk_rps, result.rps, users, workers,
                       result.peak_cpu_cores)
