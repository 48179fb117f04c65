"""Readiness: poll a real-protocol probe until it answers, with a deadline.

A probe is a callable that raises while the service is not ready. Only the
exceptions listed as transient are retried; anything else is a real error. On
timeout the error carries the service's last log lines.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable

from infratests.errors import ReadinessTimeout, ServiceError
from infratests.stack.service import Probe

__all__ = ["wait_until_ready", "tcp_probe", "http_probe", "sql_probe", "redis_probe"]


def wait_until_ready(name: str, probe: Probe, timeout: float,
                     transient: tuple[type[BaseException], ...],
                     alive: Callable[[], bool], logs: Callable[[], str], hint: str = "",
                     exit_code: Callable[[], int | None] = lambda: None) -> float:
    """Poll ``probe`` until it passes; return the seconds waited.

    The error's first line says what was awaited (``hint``: the probe and the keys that set it)
    and how the process ended; the service's last log lines follow.
    """
    what = f" ({hint})" if hint else ""
    started = time.monotonic()
    delay = 0.005
    last: BaseException | None = None
    while True:
        try:
            probe()
            return time.monotonic() - started
        except transient as error:
            last = error
        if not alive():
            code = exit_code()
            ended = f"exited with code {code}" if code is not None else "exited"
            raise ServiceError(f"{name} {ended} before it was ready{what}; last probe error {last!r}; "
                               f"last log lines:\n{logs()}", name)
        if time.monotonic() - started > timeout:
            raise ReadinessTimeout(f"{name} not ready after {timeout:.1f} s (startup_timeout_s){what}; "
                                   f"last probe error {last!r}; last log lines:\n{logs()}", name)
        time.sleep(delay)
        delay = min(delay * 1.5, 0.05)


def tcp_probe(host: str, port: int) -> Probe:
    def probe() -> None:
        socket.create_connection((host, port), timeout=1.0).close()
    return probe


def http_probe(url: str, expect: int = 200, ca_file: str | None = None) -> Probe:
    """GET ``url`` with the standard library (fast to import) and expect a status."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"

    def probe() -> None:
        if parts.scheme == "https":
            context = ssl.create_default_context(cafile=ca_file)
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                host, parts.port, timeout=1.0, context=context)
        else:
            conn = http.client.HTTPConnection(host, parts.port, timeout=1.0)
        try:
            conn.request("GET", parts.path or "/")
            status = conn.getresponse().status
        finally:
            conn.close()
        if status != expect:
            raise ConnectionError(f"GET {url} answered {status}, expected {expect}")
    return probe


def sql_probe(dsn: str, timeout_s: int = 2) -> Probe:
    def probe() -> None:
        import psycopg
        with psycopg.connect(dsn, connect_timeout=timeout_s, autocommit=True) as conn:
            conn.execute("select 1")
    return probe


def redis_probe(host: str, port: int) -> Probe:
    """PING in RESP over a plain socket: the real protocol without importing a client."""
    def probe() -> None:
        with socket.create_connection((host, port), timeout=1.0) as conn:
            conn.sendall(b"*1\r\n$4\r\nPING\r\n")
            answer = conn.recv(64)
        if not answer.startswith(b"+PONG"):
            raise ConnectionError(f"PING answered {answer!r}")
    return probe
