"""Shared pieces of the infratests locustfiles: per-request history, TLS, request ids, pacing.

Imported by every locustfile in this directory (never by pytest: importing
locust monkey-patches the process with gevent). The runner
(``infratests.load.runner``) puts this directory on ``PYTHONPATH`` so
locustfiles elsewhere (tests, user projects) can ``import _common`` too.

Environment read here:

``INFRATESTS_HISTORY``
    JSONL path; EVERY request is appended as one line (see ``_record``).
    A standalone Locust writes PATH; a distributed worker writes
    ``PATH.w<pid>`` (``infratests.load.history`` merges them).
``INFRATESTS_CA_FILE``
    CA bundle that verifies the stack's HTTPS certificate; unset: normal
    verification against the system store.
``INFRATESTS_RATE_PER_USER``
    steady-rate mode: task runs per second per user (a constant throughput,
    which the capacity shape changes from step to step through :data:`PACE`);
    unset: closed loop, each user starts its next task at once.
``INFRATESTS_TIMEOUT_S``
    connect and network timeout per request (default 30 s).

Without ``INFRATESTS_HISTORY`` (capacity runs) the request listener returns
before building a row: a history costs only when it is asked for. The
history buffer is flushed on ``test_stop``, ``quitting`` and ``quit``
(Locust turns SIGINT into a clean shutdown that fires them) and at exit;
only SIGKILL loses the unflushed tail.
"""

from __future__ import annotations

import atexit
import itertools
import json
import os
import socket
import ssl
import time
import uuid
from typing import Any

import gevent.ssl
from locust import FastHttpUser, events
from locust.contrib.fasthttp import FastHttpSession
from locust.exception import CatchResponseError
from locust.runners import WorkerRunner

__all__ = ["PACE", "InfratestsUser", "env_float", "env_int"]

_TRANSPORT_ERRORS = (OSError, TimeoutError, socket.timeout, ssl.SSLError, EOFError)


def env_float(name: str, default: float) -> float:
    """A float setting from the environment (locustfile parameters)."""
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


class _HistoryWriter:
    """Buffered JSONL sink, one file per process (workers are forked or separate)."""

    def __init__(self) -> None:
        self.base = os.environ.get("INFRATESTS_HISTORY") or None
        self.worker = False
        self._file: Any = None

    def write(self, row: dict[str, Any]) -> None:
        if self.base is None:
            return
        if self._file is None:
            path = f"{self.base}.w{os.getpid()}" if self.worker else self.base
            self._file = open(path, "a", buffering=1 << 16, encoding="utf-8")  # noqa: SIM115
        self._file.write(json.dumps(row, separators=(",", ":")) + "\n")

    def flush(self, **_: Any) -> None:
        if self._file is not None:
            self._file.flush()


_HISTORY = _HistoryWriter()
_USER_IDS = itertools.count(1)
atexit.register(_HISTORY.flush)


def _kind(status: int, exception: BaseException | None) -> str | None:
    """'transport' (no full response: indeterminate), 'http' (>= 400), 'check' (locustfile verdict)."""
    if exception is None:
        return None
    if status == 0:
        return "transport"
    if status >= 400:
        return "http"
    if isinstance(exception, _TRANSPORT_ERRORS):
        return "transport"
    return "check" if isinstance(exception, CatchResponseError) else "transport"


@events.init.add_listener
def _on_init(environment: Any, **_: Any) -> None:
    _HISTORY.worker = isinstance(environment.runner, WorkerRunner)


@events.request.add_listener
def _record(request_type: str, name: str, response_time: float, response_length: int,
            response: Any = None, context: Any = None, exception: BaseException | None = None,
            start_time: float | None = None, **_: Any) -> None:
    if _HISTORY.base is None:
        return
    status = int(getattr(response, "status_code", 0) or 0)
    latency = float(response_time or 0.0)
    context = context or {}
    now_wall, now_mono = time.time(), time.monotonic()
    # Locust gives the wall start; map it onto the monotonic clock (a catch_response block
    # reports after its body ran, so "now - latency" would start the request too late).
    wall = start_time if start_time is not None else now_wall - latency / 1000
    _HISTORY.write({
        "wall": wall,
        "mono": now_mono - (now_wall - wall),
        "user": context.get("user_id", "?"),
        "name": name,
        "method": request_type,
        "status": status,
        "latency_ms": round(latency, 3),
        "length": int(response_length or 0),
        "error": None if exception is None else repr(exception)[:300],
        "kind": _kind(status, exception),
        "request_id": context.get("request_id"),
        "pid": os.getpid(),
    })


for _hook in (events.test_stop, events.quitting, events.quit):
    _hook.add_listener(_HISTORY.flush)


def _ssl_context() -> ssl.SSLContext:
    """Verify against INFRATESTS_CA_FILE when set (the stack's per-session CA), else the system store."""
    return gevent.ssl.create_default_context(cafile=os.environ.get("INFRATESTS_CA_FILE") or None)


class Pace:
    """Task runs per second per user, shared by every user of this process (0: closed loop)."""

    def __init__(self, rate_per_user: float) -> None:
        self.rate_per_user = rate_per_user

    def wait(self, user: Any) -> float:
        """Seconds until the user's next task is due: one task every 1/rate s from the previous due
        time, never catching up on a backlog (a slow answer lowers the rate rather than bursting)."""
        rate, now = self.rate_per_user, time.monotonic()
        if rate <= 0:
            return 0.0
        due = max(now, getattr(user, "_pace_due", now) + 1.0 / rate)
        user._pace_due = due
        return due - now


PACE = Pace(env_float("INFRATESTS_RATE_PER_USER", 0.0))


def _paced(user: Any) -> float:
    return PACE.wait(user)


class _TracedSession(FastHttpSession):
    """Sends a fresh X-Request-ID with every request and hands it to the history listener."""

    def request(self, method: str, url: str, headers: dict[str, str] | None = None,  # type: ignore[override]
                context: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        request_id = uuid.uuid4().hex
        headers = {**(headers or {}), "X-Request-ID": request_id}
        context = {**(context or {}), "request_id": request_id}
        return super().request(method, url, headers=headers, context=context, **kwargs)


class InfratestsUser(FastHttpUser):
    """Base of every infratests user: traced requests, verified TLS, env-driven pacing."""

    abstract = True
    insecure = False
    ssl_context_factory = staticmethod(_ssl_context)
    network_timeout = env_float("INFRATESTS_TIMEOUT_S", 30.0)
    connection_timeout = env_float("INFRATESTS_TIMEOUT_S", 30.0)
    wait_time = _paced

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.user_id = f"{os.getpid()}-{next(_USER_IDS)}"
        self.client = _TracedSession(
            base_url=self.host, request_event=environment.events.request, user=self,
            network_timeout=self.network_timeout, connection_timeout=self.connection_timeout,
            max_redirects=self.max_redirects, max_retries=self.max_retries, insecure=self.insecure,
            concurrency=self.concurrency, client_pool=self.client_pool,
            ssl_context_factory=self.ssl_context_factory, headers=self.default_headers,
            proxy_host=self.proxy_host, proxy_port=self.proxy_port,
        )

    def context(self) -> dict[str, Any]:
        return {"user_id": self.user_id}
