"""What one Locust process did so far: requests, failures, latency buckets, failure causes, CPU.

Used by ``capacity_shape.py`` in every process of a run (standalone, master,
each worker wherever it runs). A tally is cumulative; the harness subtracts
two of them to get one step. Latencies are bucketed with Locust's own
rounding, so percentiles agree with Locust's. A failure's cause is its status
(``HTTP 429``) or, when no response came, the exception's type (a timeout,
a reset); each cause keeps its count and the first message seen: the
response body's start, or the exception. ``INFRATESTS_IN_CONTAINER=1`` (set
by the container recipe) marks a process as running in a container.
"""

from __future__ import annotations

import os
import socket
import time
from collections import Counter
from typing import Any

from locust.stats import bucket_response_time

__all__ = ["Tally"]

_SAMPLE_CHARS = 200


def _cause(exception: BaseException, response: Any) -> tuple[str, int]:
    status = int(getattr(response, "status_code", 0) or 0)
    if status >= 400:
        return f"HTTP {status}", status
    if status:  # an answer the locustfile rejected (catch_response)
        return f"HTTP {status} rejected by the locustfile", status
    return type(exception).__name__, 0


def _sample(exception: BaseException, response: Any, status: int) -> str:
    if status >= 400:
        try:
            body = (getattr(response, "text", "") or "").strip()
        except Exception:  # a body that cannot be decoded says nothing more than the status
            body = ""
        if body:
            return " ".join(body.split())[:_SAMPLE_CHARS]
    return repr(exception)[:_SAMPLE_CHARS]


def _cpu_and_wait() -> tuple[float, float]:
    """CPU seconds of this process and seconds its main thread waited for a CPU while runnable."""
    times = os.times()
    try:
        with open("/proc/self/schedstat", encoding="ascii") as stat:
            waited = int(stat.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        waited = 0.0
    return times.user + times.system, waited


class Tally:
    """Cumulative counts of this process; ``add`` is the request listener's whole work."""

    def __init__(self) -> None:
        self.requests = 0
        self.failures = 0
        self.buckets: Counter[int] = Counter()
        self.causes: dict[str, dict[str, Any]] = {}

    def add(self, response_time: float | None, exception: BaseException | None, response: Any) -> None:
        self.requests += 1
        self.buckets[bucket_response_time(float(response_time or 0.0))] += 1
        if exception is None:
            return
        self.failures += 1
        key, status = _cause(exception, response)
        entry = self.causes.get(key)
        if entry is None:
            self.causes[key] = {"count": 1, "status": status, "sample": _sample(exception, response, status)}
        else:
            entry["count"] += 1

    def snapshot(self, node: str, role: str) -> dict[str, Any]:
        """This process's tally now, with its identity and CPU, as plain JSON data."""
        cpu, waited = _cpu_and_wait()
        return {"node": node, "role": role, "host": socket.gethostname(), "pid": os.getpid(),
                "container": os.environ.get("INFRATESTS_IN_CONTAINER") == "1", "wall": time.time(), "cpu_s": cpu,
                "wait_s": waited, "requests": self.requests, "failures": self.failures,
                "buckets": {str(key): count for key, count in self.buckets.items()},
                "causes": {key: dict(entry) for key, entry in self.causes.items()}}
