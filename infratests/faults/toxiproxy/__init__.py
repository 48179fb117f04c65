"""A Toxiproxy-compatible fault proxy (HTTP API v2), in asyncio.

Run it as ``python -m infratests.faults.toxiproxy --host 127.0.0.1 --port N
[--config FILE]``; any Toxiproxy client (``toxiproxy-python``) drives it. The
API's contract is /work/shared/reference/toxiproxy-api.md. Imports stay light:
the server must answer within a fraction of a second.
"""

from __future__ import annotations

from .api import VERSION, ApiServer
from .registry import Registry

__all__ = ["ApiServer", "Registry", "VERSION", "serve"]


async def serve(host: str, port: int, config: list[object] | None = None) -> tuple[ApiServer, tuple[str, int]]:
    """Populate ``config`` (all its proxies listening), then start the API; returns it and its address."""
    registry = Registry()
    if config:
        await registry.populate(config)
    api = ApiServer(registry)
    return api, await api.start(host, port)
