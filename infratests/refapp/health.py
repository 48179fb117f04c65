"""Health endpoints (C-HL-1..4) and the rule that tells internal from external callers.

Rule (documented in docs/app-contract.md): a request is *internal* when it carries
the right ``X-Health-Secret`` header, or when its TCP peer is a loopback address
(or one of ``INTERNAL_PEERS``) and it carries none of the proxy headers ``X-Forwarded-For``, ``X-Real-IP``,
``X-External`` (nginx always sets ``X-Real-IP``, so everything that came through
the proxy is external). Only internal callers see details and escape the rate limit.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import os
import time
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

__all__ = ["RateLimiter", "TokenBucket", "client_key", "health_routes", "is_internal"]

_PROXY_HEADERS = ("x-forwarded-for", "x-real-ip", "x-external")


def is_internal(peer: str | None, headers: Any, secret: str,
                internal_peers: tuple[str, ...] = ()) -> bool:
    """True for a correct shared secret, or a direct loopback (or ``internal_peers``) peer without
    proxy headers."""
    given = headers.get("x-health-secret")
    if secret and given is not None and hmac.compare_digest(given.encode(), secret.encode()):
        return True
    if any(headers.get(name) is not None for name in _PROXY_HEADERS):
        return False
    try:
        address = ipaddress.ip_address(peer) if peer is not None else None
    except ValueError:
        return False
    if address is None:
        return False
    return address.is_loopback or any(address in ipaddress.ip_network(net) for net in internal_peers)


def client_key(peer: str | None, headers: Any) -> str:
    """The client address a rate limit counts against: X-Real-IP, else first X-Forwarded-For, else the peer."""
    real = headers.get("x-real-ip")
    if real:
        return real.strip()
    forwarded = headers.get("x-forwarded-for")
    if forwarded:
        return forwarded.split(",")[0].strip()
    return peer or "unknown"


class TokenBucket:
    """``rate`` tokens per ``per`` seconds with a burst of ``rate``."""

    def __init__(self, rate: int, per: float, now: float) -> None:
        self.capacity = float(rate)
        self.tokens = float(rate)
        self.refill = rate / per
        self.stamp = now

    def take(self, now: float) -> bool:
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.refill)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class RateLimiter:
    """Per-client token buckets; ``per_minute`` 0 disables limiting."""

    def __init__(self, per_minute: int, clock: Any = time.monotonic) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self.buckets: dict[str, TokenBucket] = {}

    def allow(self, key: str) -> bool:
        if not self.per_minute:
            return True
        now = self.clock()
        if len(self.buckets) > 10_000:
            self.buckets.clear()  # bounded memory under a spoofed-address flood
        bucket = self.buckets.setdefault(key, TokenBucket(self.per_minute, 60.0, now))
        return bucket.take(now)


def _brief(status: str = "ok", code: int = 200) -> JSONResponse:
    return JSONResponse({"status": status, "timestamp": datetime.now(UTC).isoformat()}, status_code=code)


def _guard(request: Request) -> JSONResponse | None:
    """429 for external callers over the limit; internal callers are never limited (C-HL-4)."""
    state = request.app.state.refapp
    peer = request.client.host if request.client else None
    if is_internal(peer, request.headers, state.settings.health_secret, state.settings.internal_peers):
        return None
    if state.health_limiter.allow(client_key(peer, request.headers)):
        return None
    return JSONResponse({"error": "rate limited"}, status_code=429, headers={"retry-after": "2"})


async def health(request: Request) -> JSONResponse:
    """Simple health: no dependency calls (C-HL-1)."""
    return _guard(request) or _brief()


async def live(request: Request) -> JSONResponse:
    """Liveness: 200 while the process runs, whatever the dependencies do (C-HL-1)."""
    limited = _guard(request)
    if limited or not request.app.state.refapp.settings.deep_liveness:
        return limited or _brief("alive")
    deps = await check_dependencies(request.app.state.refapp)  # the mutant: liveness tied to deps
    return _brief("alive") if deps["db"] == "ok" else _brief("dead", 503)


async def ready(request: Request) -> JSONResponse:
    """Readiness: 503 while draining or when DB/Redis fail a ~1 s check, naming the failing dependency (C-HL-2)."""
    limited = _guard(request)
    if limited:
        return limited
    state = request.app.state.refapp
    if state.draining:
        return JSONResponse({"status": "draining", "failing": []}, status_code=503)
    deps = await check_dependencies(state) if state.settings.ready_checks else {}
    failing = sorted(name for name, status in deps.items() if status != "ok")
    body = {"status": "ready" if not failing else "not ready", "failing": failing, "dependencies": deps}
    return JSONResponse(body, status_code=503 if failing else 200)


async def detailed(request: Request) -> JSONResponse:
    """Uptime, memory, version and dependencies for internal callers only; others get status+timestamp (C-HL-3)."""
    limited = _guard(request)
    if limited:
        return limited
    state = request.app.state.refapp
    peer = request.client.host if request.client else None
    internal = is_internal(peer, request.headers, state.settings.health_secret, state.settings.internal_peers)
    if not internal and not state.settings.leak_health_details:
        return _brief()
    deps = await check_dependencies(state)
    return JSONResponse(
        {
            "status": "ok" if all(v == "ok" for v in deps.values()) else "degraded",
            "timestamp": datetime.now(UTC).isoformat(),
            "instance": state.settings.instance,
            "version": state.settings.app_version,
            "uptime_s": round(time.monotonic() - state.started_mono, 3),
            "memory_rss_bytes": _rss_bytes(),
            "pid": os.getpid(),
            "draining": state.draining,
            "dependencies": deps,
        }
    )


async def check_dependencies(state: Any) -> dict[str, str]:
    """DB ``select 1`` and Redis PING, each bounded by the ready timeout; "ok" or the error class."""
    timeout = state.settings.ready_timeout_ms / 1000
    db, cache = await asyncio.gather(
        _probe(_db_ping(state, timeout), timeout), _probe(state.redis.ping(), timeout)
    )
    return {"db": db, "redis": cache}


async def _db_ping(state: Any, timeout: float) -> None:
    async with state.pool.connection(timeout=timeout) as conn:
        await conn.execute("select 1")


async def _probe(awaitable: Any, timeout: float) -> str:
    try:
        await asyncio.wait_for(awaitable, timeout)
    except TimeoutError:
        return "timeout"
    except Exception as exc:  # noqa: BLE001 (any failure is "not ok"; the class name says which)
        return type(exc).__name__
    return "ok"


def _rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


health_routes = [
    Route("/health", health),
    Route("/health/live", live),
    Route("/health/ready", ready),
    Route("/health/detailed", detailed),
]
