"""Plain HTTP requests recorded as a history (C-GS, C-NGX): steady paced load and single timed requests.

Every request is one operation whose completion carries ``extra["status"]``
(what :mod:`infratests.checks.windows` judges) and ``extra["instance"]`` (the
replica that answered, when the body names one). The completion type follows
the load history rule: ``ok`` for 2xx/3xx, ``fail`` for a definite HTTP error
(>= 400: the server answered), ``info`` when no complete answer arrived
(refused, reset, timeout: the user saw no answer).
"""

from __future__ import annotations

import itertools
import ssl
import time
from collections.abc import Collection, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any, Self

import httpx

from infratests.history import OpType, Recorder
from infratests.load.workloads.threads import Threads

__all__ = ["RequestLoad", "timed_request", "client_for"]


def client_for(base_url: str, ca_file: Path | None = None, timeout_s: float = 10.0,
               http2: bool = False) -> httpx.Client:
    """An httpx client for ``base_url``, verifying HTTPS against ``ca_file`` when given."""
    verify: Any = ssl.create_default_context(cafile=str(ca_file)) if ca_file else True
    return httpx.Client(base_url=base_url, verify=verify, timeout=timeout_s, http2=http2)


def timed_request(client: httpx.Client, recorder: Recorder, process: int | str, f: str,
                  path: str, method: str = "GET", expect: Collection[int] = (),
                  **kwargs: Any) -> httpx.Response | None:
    """One request recorded as invoke + ok/fail/info; the response, or None when none came.

    A status in ``expect`` is recorded ``ok`` even when >= 400 (e.g. 503 from a draining replica,
    which is the answer the claim wants); ``extra["status"]`` keeps it for the checker.
    """
    recorder.record(process, OpType.INVOKE, f, path)
    try:
        response = client.request(method, path, **kwargs)
    except httpx.HTTPError as error:
        recorder.record(process, OpType.INFO, f, path, repr(error)[:300], status=0)
        return None
    status = response.status_code
    kind = OpType.FAIL if status >= 400 and status not in expect else OpType.OK
    recorder.record(process, kind, f, path, None if kind is OpType.OK else f"HTTP {status}",
                    status=status, instance=_instance(response))
    return response


def _instance(response: httpx.Response) -> str | None:
    if not response.headers.get("content-type", "").startswith("application/json"):
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("instance") if isinstance(body, dict) else None


class RequestLoad:
    """``with RequestLoad(url, recorder, ("/api/x",), rate_per_s=40) as load:`` steady load until exit.

    ``workers`` threads share the rate; each keeps its own client (its own
    keep-alive connection) and walks ``paths`` round-robin, sending ``headers``
    with every request. Requests are paced
    on a fixed schedule, so a slow answer does not lower the offered rate
    below what the workers can sustain.
    """

    def __init__(self, base_url: str, recorder: Recorder, paths: Sequence[str] = ("/api/load",),
                 rate_per_s: float = 40.0, workers: int = 4, ca_file: Path | None = None,
                 timeout_s: float = 10.0, f: str = "get", headers: Mapping[str, str] | None = None) -> None:
        self.base_url, self.recorder, self.paths = base_url, recorder, tuple(paths)
        self.rate_per_s, self.workers, self.f = rate_per_s, workers, f
        self.headers = dict(headers or {})
        self._ca_file, self._timeout_s = ca_file, timeout_s
        self._threads = Threads()
        self._stop = self._threads.stopping
        self.sent = 0

    def __enter__(self) -> Self:
        self._threads.start(*(partial(self._loop, n) for n in range(self.workers)), name="load")
        return self

    def __exit__(self, *_exc: object) -> None:
        self._threads.stop(self._timeout_s + 5.0)

    def _loop(self, worker: int) -> None:
        interval = self.workers / self.rate_per_s
        next_at = time.monotonic() + interval * worker / self.workers
        with client_for(self.base_url, self._ca_file, self._timeout_s) as client:
            for n in itertools.count():
                if self._stop.wait(max(0.0, next_at - time.monotonic())):
                    return
                timed_request(client, self.recorder, f"load-{worker}", self.f,
                              self.paths[n % len(self.paths)], headers=self.headers)
                self.sent += 1
                next_at += interval
