"""A tiny real HTTP target for the load tests: ``python target_app.py FD [CERT KEY]``.

It serves on an already-bound listening socket (FD), over TLS when a
certificate and key are given.

Endpoints: ``/fast`` (200), ``/slow?ms=N`` (200 after N ms), ``/error``
(500), ``/limited`` (429, as a rate limiter answers), ``/internal`` (200
with an ``X-Health-Secret``, else 429), ``/reset`` (headers sent, then the
connection is dropped mid-body).
"""

from __future__ import annotations

import asyncio
import socket
import sys
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route


async def fast(_: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


async def slow(request: Request) -> PlainTextResponse:
    await asyncio.sleep(int(request.query_params.get("ms", "100")) / 1000)
    return PlainTextResponse("slow")


async def error(_: Request) -> PlainTextResponse:
    return PlainTextResponse("boom", status_code=500)


async def limited(_: Request) -> JSONResponse:
    return JSONResponse({"error": "rate limited"}, status_code=429, headers={"retry-after": "2"})


async def internal(request: Request) -> JSONResponse:
    if request.headers.get("x-health-secret"):
        return JSONResponse({"status": "ok"})
    return await limited(request)


class _Reset:
    """Promise 1000 bytes, send none, fail: uvicorn drops the connection mid-response."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"1000")]})
        raise ConnectionResetError("target drops the connection on purpose")


app = Starlette(routes=[Route("/fast", fast), Route("/slow", slow), Route("/error", error),
                        Route("/limited", limited), Route("/internal", internal),
                        Route("/reset", _Reset())])

if __name__ == "__main__":
    # socket(fileno=...) detects AF_INET; uvicorn's own ``fd=`` assumes AF_UNIX and so
    # never sets TCP_NODELAY, which adds 40 ms delayed-ACK stalls to every response.
    listener = socket.socket(fileno=int(sys.argv[1]))
    tls: dict[str, Any] = {"ssl_certfile": sys.argv[2], "ssl_keyfile": sys.argv[3]} if len(sys.argv) > 3 else {}
    config = uvicorn.Config(app, log_level="warning", access_log=False, **tls)
    uvicorn.Server(config).run(sockets=[listener])
