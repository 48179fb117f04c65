"""The reference app: Starlette routes + lifespan that opens (and on shutdown closes) every client."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from infratests.refapp.bank import bank_routes
from infratests.refapp.breaker import CircuitBreaker
from infratests.refapp.health import RateLimiter, health_routes
from infratests.refapp.jobs import job_routes
from infratests.refapp.middleware import RefappMiddleware
from infratests.refapp.routes import misc_routes
from infratests.refapp.settings import Settings
from infratests.refapp.state import AppState

__all__ = ["STATIC_CACHE_CONTROL", "STATIC_DIR", "create_app"]

log = logging.getLogger("refapp")
STATIC_DIR = Path(__file__).with_name("static")
STATIC_CACHE_CONTROL = "public, max-age=31536000, immutable"


class _ImmutableStatic(StaticFiles):
    """Static files with a long, immutable Cache-Control (C-NGX-7)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_cache(message: Any) -> None:
            if message["type"] == "http.response.start" and message["status"] in (200, 304):
                message["headers"] = list(message.get("headers", [])) + [
                    (b"cache-control", STATIC_CACHE_CONTROL.encode())
                ]
            await send(message)

        await super().__call__(scope, receive, send_with_cache)


async def _open_clients(state: AppState) -> None:
    import httpx
    import redis.asyncio as aioredis

    from infratests.refapp.db import ensure_schema, open_pool

    settings = state.settings
    timeout = settings.ready_timeout_ms / 1000
    state.redis = aioredis.Redis.from_url(
        settings.redis_url, socket_timeout=timeout, socket_connect_timeout=timeout
    )
    state.lock_clients = [
        aioredis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        for url in settings.redis_lock_urls
    ]
    state.http = httpx.AsyncClient(timeout=settings.breaker_call_timeout_ms / 1000)
    state.pool = open_pool(settings)
    if settings.ready_early:
        await state.pool.open(wait=False)  # mutant: serve before the pool can (breaks C-GS-5)
        state.background = asyncio.ensure_future(_late_schema(state))
        return
    await state.pool.open(wait=True, timeout=settings.pool_open_timeout_ms / 1000)
    await ensure_schema(state.pool, settings)


async def _late_schema(state: AppState) -> None:
    from infratests.refapp.db import ensure_schema

    try:
        await state.pool.wait(timeout=state.settings.pool_open_timeout_ms / 1000)
        await ensure_schema(state.pool, state.settings)
    except Exception as exc:  # noqa: BLE001 (the mutant keeps serving; the failure is only logged)
        log.error("late pool open failed", extra={"error": repr(exc)})


async def _close_clients(state: AppState) -> None:
    """Close pools and clients (C-GS-1); each close is independent of the others failing."""
    closers = []
    if state.pool is not None:
        closers.append(("db pool", state.pool.close()))
    for name, client in [("redis", state.redis), *[("redis lock node", c) for c in state.lock_clients]]:
        if client is not None:
            closers.append((name, client.aclose()))
    if state.http is not None:
        closers.append(("http client", state.http.aclose()))
    for name, closing in closers:
        try:
            await closing
        except Exception as exc:  # noqa: BLE001 (a dead dependency must not block exit)
            log.warning("close failed", extra={"client": name, "error": repr(exc)})
    if state.sentry is not None:
        state.sentry.flush(timeout=2.0)
    log.info("clients closed")


def _error_handlers() -> dict[Any, Any]:
    from psycopg import OperationalError, errors
    from psycopg_pool import PoolTimeout

    async def pool_timeout(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"error": f"db pool exhausted: {exc}"}, status_code=503)

    async def query_canceled(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"error": f"statement timeout: {exc}".strip()}, status_code=504)

    async def db_down(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"error": f"database unavailable: {type(exc).__name__}"}, status_code=503)

    return {PoolTimeout: pool_timeout, errors.QueryCanceled: query_canceled, OperationalError: db_down}


def _init_sentry(settings: Settings) -> Any:
    """The sentry_sdk module when SENTRY_DSN is set (imported only then: it is slow to import), else None.

    Integrations stay off: the middleware captures errors itself, tagged with the request id.
    """
    if not settings.sentry_dsn:
        return None
    import sentry_sdk

    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        release=settings.app_version,
        default_integrations=False,
        auto_enabling_integrations=False,
        server_name=settings.instance,
    )
    return sentry_sdk


def create_app(settings: Settings) -> tuple[RefappMiddleware, AppState]:
    """The ASGI app (middleware-wrapped Starlette) and its state; clients open in the lifespan."""
    state = AppState(
        settings=settings,
        breaker=CircuitBreaker("dependency", settings.breaker_threshold, settings.breaker_reset_ms / 1000),
    )
    state.health_limiter = RateLimiter(settings.health_rate_per_min)
    state.sentry = _init_sentry(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await _open_clients(state)
        log.info("startup complete", extra={"port": settings.port, "version": settings.app_version})
        yield
        await _close_clients(state)

    routes = [
        *health_routes,
        *bank_routes,
        *job_routes,
        *misc_routes,
        Mount("/static", _ImmutableStatic(directory=STATIC_DIR), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers=_error_handlers())
    app.state.refapp = state
    return RefappMiddleware(app, state, app.router), state
