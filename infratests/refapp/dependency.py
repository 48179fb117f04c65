"""``python -m infratests.refapp.dependency``: the external dependency behind the circuit breaker.

Env HOST (127.0.0.1) and PORT. Routes: ``GET /quote`` (JSON), ``GET /stats``
(requests served per route, so a test can prove no call reached it while the
circuit was open), ``GET /health``, and ``POST /control {"delay_ms", "status"}``
to make /quote slow or failing without a proxy.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time
from collections import Counter

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

__all__ = ["create_dependency_app", "main"]


def create_dependency_app() -> Starlette:
    """The dependency's ASGI app; counters and behaviour live on ``app.state``."""
    served: Counter[str] = Counter()
    behaviour = {"delay_ms": 0, "status": 200}

    async def quote(request: Request) -> JSONResponse:
        served["quote"] += 1
        if behaviour["delay_ms"]:
            await asyncio.sleep(behaviour["delay_ms"] / 1000)
        if behaviour["status"] != 200:
            return JSONResponse({"error": "injected"}, status_code=behaviour["status"])
        return JSONResponse(
            {"symbol": "INFRA", "price": round(random.uniform(90, 110), 2), "ts": time.time()}
        )

    async def stats(request: Request) -> JSONResponse:
        return JSONResponse({"served": dict(served), "quote": served["quote"], **behaviour})

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def control(request: Request) -> JSONResponse:
        body = await request.json()
        behaviour["delay_ms"] = int(body.get("delay_ms", behaviour["delay_ms"]))
        behaviour["status"] = int(body.get("status", behaviour["status"]))
        return JSONResponse(behaviour)

    return Starlette(
        routes=[
            Route("/quote", quote),
            Route("/stats", stats),
            Route("/health", health),
            Route("/control", control, methods=["POST"]),
        ]
    )


def main() -> int:
    """Serve on HOST:PORT until SIGTERM/SIGINT."""
    import uvicorn

    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8100"))
    uvicorn.run(
        create_dependency_app(),
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
        lifespan="off",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
