"""Small endpoints: slow work, big JSON, crash, DB sleep, cache, quote, metrics, pool, WebSocket echo."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from infratests.refapp.db import pool_stats, transaction
from infratests.refapp.metrics import CONTENT_TYPE

__all__ = ["misc_routes", "query_number"]


def query_number(
    request: Request, name: str, default: float, low: float = 0, high: float = 3600_000
) -> float:
    """A numeric query parameter in [low, high], else HTTP 400 naming it."""
    raw = request.query_params.get(name)
    try:
        value = default if raw is None else float(raw)
    except ValueError:
        value = float("nan")
    if not low <= value <= high:
        raise HTTPException(400, f"query parameter {name}={raw!r} must be a number in [{low}, {high}]")
    return value


async def slow(request: Request) -> JSONResponse:
    """GET /slow?ms=N: sleep N ms, so in-flight work is observable during a drain."""
    ms = int(query_number(request, "ms", 1000))
    await asyncio.sleep(ms / 1000)
    return JSONResponse({"slept_ms": ms, "instance": request.app.state.refapp.settings.instance})


async def big_json(request: Request) -> Response:
    """GET /json?bytes=N: a JSON body of about N bytes (gzip threshold checks)."""
    size = int(query_number(request, "bytes", 2048, high=10_000_000))
    filler = "x" * max(0, size - len('{"data":""}'))
    return Response(json.dumps({"data": filler}), media_type="application/json")


async def boom(request: Request) -> Response:
    """GET /boom: an unhandled exception (500 + error tracker event with the request id)."""
    raise RuntimeError("boom: deliberate unhandled error")


async def db_sleep(request: Request) -> JSONResponse:
    """GET /db/sleep?s=N: ``select pg_sleep(N)`` under the statement timeout (C-POOL-3/4)."""
    seconds = query_number(request, "s", 1, high=3600)
    state = request.app.state.refapp
    async with transaction(state.pool, state.settings) as conn:
        await conn.execute("select pg_sleep(%s)", (seconds,))
    return JSONResponse({"slept_s": seconds})


async def debug_pool(request: Request) -> JSONResponse:
    """GET /debug/pool: pool stats (total/idle/active/waiting/max/min)."""
    return JSONResponse(pool_stats(request.app.state.refapp.pool))


async def metrics(request: Request) -> Response:
    """GET /metrics: Prometheus text format (C-OBS-2)."""
    return Response(request.app.state.refapp.metrics.render(), media_type=CONTENT_TYPE)


def _cache_key(state: Any, key: str) -> str:
    return state.settings.effective_cache_prefix + key


async def cache_get(request: Request) -> Response:
    """GET /cache/{key}: 200 with the value and its remaining TTL, 404 when absent."""
    state = request.app.state.refapp
    key = _cache_key(state, request.path_params["key"])
    value, ttl = await asyncio.gather(state.redis.get(key), state.redis.ttl(key))
    if value is None:
        return JSONResponse({"key": request.path_params["key"], "error": "not found"}, status_code=404)
    return JSONResponse({"key": request.path_params["key"], "value": value.decode(), "ttl": ttl})


async def cache_put(request: Request) -> Response:
    """PUT /cache/{key}: store the body under CACHE_PREFIX with a TTL (C-RD-1, C-RD-3)."""
    state = request.app.state.refapp
    ttl = state.settings.cache_ttl_s or None
    key = _cache_key(state, request.path_params["key"])
    await state.redis.set(key, await request.body(), ex=ttl)
    return JSONResponse({"key": request.path_params["key"], "stored_as": key, "ttl": ttl or -1})


async def quote(request: Request) -> Response:
    """GET /quote: the dependency's quote through breaker + retries; 503 fast while the circuit is open."""
    from infratests.refapp.dependency_client import fetch_quote

    return await fetch_quote(request.app.state.refapp)


async def ws_echo(websocket: WebSocket) -> None:
    """/ws: echo text and bytes until the client closes."""
    await websocket.accept()
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("text") is not None:
                await websocket.send_text(message["text"])
            elif message.get("bytes") is not None:
                await websocket.send_bytes(message["bytes"])
    except WebSocketDisconnect:
        return


async def echo(request: Request) -> JSONResponse:
    """/auth/*, /webhooks/*, /api/*: a cheap 200 that names the replica (targets of nginx rate-limit zones)."""
    body = await request.body()
    return JSONResponse(
        {
            "path": request.url.path,
            "method": request.method,
            "bytes": len(body),
            "instance": request.app.state.refapp.settings.instance,
            # the TCP peer (host:port) identifies the connection: upstream keepalive checks (C-NGX-3)
            "peer": f"{request.client.host}:{request.client.port}" if request.client else None,
        }
    )


async def root(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"refapp {request.app.state.refapp.settings.instance}\n")


misc_routes = [
    Route("/", root),
    Route("/slow", slow),
    Route("/json", big_json),
    Route("/boom", boom),
    Route("/db/sleep", db_sleep),
    Route("/debug/pool", debug_pool),
    Route("/metrics", metrics),
    Route("/cache/{key}", cache_get, methods=["GET"]),
    Route("/cache/{key}", cache_put, methods=["PUT"]),
    Route("/quote", quote),
    WebSocketRoute("/ws", ws_echo),
    *[Route(f"/{zone}/{{rest:path}}", echo, methods=["GET", "POST"]) for zone in ("auth", "webhooks", "api")],
]
