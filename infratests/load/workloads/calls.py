"""Calls through the app's circuit breaker (``GET /quote``, C-CB-1..5), recorded as a history.

Each ``/quote`` request is one ``call`` op: ``ok`` on 200 (the dependency
answered), ``fail`` on 502 (the dependency was called and failed) or 503 (the
breaker rejected it without calling), ``info`` when no answer came. The
completion carries ``status``, ``reached_dependency`` (False only for the
breaker's fast 503), ``breaker`` (the state the app reported) and
``elapsed_s``: what :mod:`infratests.checks.breaker` simulates.
"""

from __future__ import annotations

import time
from functools import partial
from typing import Self

import httpx

from infratests.history import OpType, Recorder
from infratests.load.workloads.threads import Threads

__all__ = ["QuoteCaller", "call_quote", "dependency_served"]

_REJECTED = 503


def call_quote(client: httpx.Client, recorder: Recorder, process: int | str) -> httpx.Response | None:
    """One ``GET /quote`` recorded as a ``call``; the response, or None if none came."""
    recorder.record(process, OpType.INVOKE, "call", None)
    started = time.monotonic()
    try:
        response = client.get("/quote")
    except httpx.HTTPError as error:
        recorder.record(process, OpType.INFO, "call", None, repr(error)[:200], status=0,
                        elapsed_s=time.monotonic() - started)
        return None
    elapsed, status = time.monotonic() - started, response.status_code
    try:
        breaker = response.json().get("breaker")
    except ValueError:
        breaker = None
    kind = OpType.OK if status == 200 else OpType.FAIL
    recorder.record(process, kind, "call", None, None if status == 200 else f"HTTP {status}",
                    status=status, reached_dependency=status != _REJECTED, breaker=breaker,
                    elapsed_s=elapsed)
    return response


class QuoteCaller:
    """``workers`` threads calling ``/quote`` back to back until the context exits."""

    def __init__(self, base_url: str, recorder: Recorder, workers: int = 1, timeout_s: float = 10.0,
                 pause_s: float = 0.02) -> None:
        self.base_url, self.recorder, self.workers = base_url, recorder, workers
        self.timeout_s, self.pause_s = timeout_s, pause_s
        self._threads = Threads()
        self._stop = self._threads.stopping

    def __enter__(self) -> Self:
        self._threads.start(*(partial(self._loop, f"caller-{i}") for i in range(self.workers)), name="caller")
        return self

    def __exit__(self, *_exc: object) -> None:
        self._threads.stop(self.timeout_s + 5)

    def _loop(self, process: str) -> None:
        with httpx.Client(base_url=self.base_url, timeout=self.timeout_s) as client:
            while not self._stop.is_set():
                call_quote(client, self.recorder, process)
                self._stop.wait(self.pause_s)


def dependency_served(dependency_url: str) -> int:
    """How many ``/quote`` requests the dependency itself has served (``GET /stats``)."""
    response = httpx.get(f"{dependency_url}/stats", timeout=5.0)
    response.raise_for_status()
    return int(response.json()["quote"])


