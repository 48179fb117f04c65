"""A proxy: a listener, its open connections and its toxics."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from typing import Any

from .errors import ApiError
from .link import Connection
from .toxics import ToxicConfig

__all__ = ["Proxy", "split_address", "resolve_host"]


def split_address(address: str) -> tuple[str, int]:
    """``"host:port"`` (or ``"[v6]:port"``) -> (host, port); ValueError in Go's words when malformed."""
    host, sep, port = address.rpartition(":")
    if not sep:
        raise ValueError(f"address {address}: missing port in address")
    if not port.isdigit() or int(port) > 65535:
        raise ValueError(f"address {port}: invalid port")
    return host.strip("[]"), int(port)


def resolve_host(host: str) -> str | None:
    """One address for ``host`` (as Toxiproxy binds one socket); "" means all interfaces."""
    if not host:
        return None
    try:
        return str(socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)[0][4][0])
    except OSError as exc:
        raise ApiError(500, f"listen tcp: lookup {host}: {exc.strerror or exc}", subject=host) from exc


class Proxy:
    """A named TCP proxy; ``listen`` becomes the real bound address once started.

    As in Toxiproxy, ``listen`` is checked when the proxy starts (500 if it cannot
    be bound) and ``upstream`` when a client connects (the client is closed).
    """

    def __init__(self, name: str, listen: str, upstream: str, enabled: bool = True) -> None:
        self.name, self.listen, self.upstream, self.enabled = name, listen, upstream, enabled
        self.toxics: dict[str, ToxicConfig] = {}
        self.connections: set[Connection] = set()
        self._server: asyncio.AbstractServer | None = None

    def to_json(self, with_toxics: bool = True) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": self.enabled,
            # Toxiproxy serializes its proxy's logger field too (always an empty object): same body.
            "Logger": {},
        }
        if with_toxics:
            body["toxics"] = [t.to_json() for t in self.toxic_list()]
        return body

    def toxic_list(self) -> list[ToxicConfig]:
        """Upstream toxics first, then downstream, each in insertion order."""
        ordered = sorted(self.toxics.values(), key=lambda t: t.direction != "upstream")
        return ordered

    def upstream_address(self) -> tuple[str, int]:
        return split_address(self.upstream)

    async def start(self) -> None:
        """Listen (if enabled); 500 in Toxiproxy's words when the address cannot be bound."""
        if not self.enabled or self._server is not None:
            return
        try:
            self._server = await self._listen()
        except ApiError:
            self.enabled = False
            raise
        bound = self._server.sockets[0].getsockname()
        shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
        self.listen = f"{shown}:{bound[1]}"

    async def _listen(self) -> asyncio.Server:
        try:
            host, port = split_address(self.listen)
        except ValueError as exc:
            raise ApiError(500, f"listen tcp: {exc}", subject=self.name) from None
        address = resolve_host(host)
        try:
            return await asyncio.get_running_loop().create_server(
                lambda: Connection(self).client, address, port, backlog=1024, reuse_address=True)
        except OSError as exc:
            reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
            raise ApiError(500, f"listen tcp {self.listen}: bind: {reason}", subject=self.name) from exc

    async def stop(self) -> None:
        """Stop listening and close every open connection."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for conn in list(self.connections):
            conn.abort()
        if server is not None:
            # uvloop waits for every accepted connection to be gone; they were aborted above.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(server.wait_closed(), 2.0)

    async def set_enabled(self, enabled: bool) -> None:
        if enabled and not self.enabled:
            self.enabled = True
            await self.start()
        elif not enabled and self.enabled:
            self.enabled = False
            await self.stop()

    def track(self, conn: Connection) -> None:
        self.connections.add(conn)

    def forget(self, conn: Connection) -> None:
        self.connections.discard(conn)

    def add_toxic(self, config: ToxicConfig) -> None:
        self.toxics[config.name] = config
        for conn in list(self.connections):
            conn.link(config.direction).add_toxic(config)

    def update_toxic(self, config: ToxicConfig) -> None:
        self.toxics[config.name] = config
        for conn in list(self.connections):
            conn.link(config.direction).replace_toxic(config)

    def remove_toxic(self, name: str) -> None:
        config = self.toxics.pop(name)
        for conn in list(self.connections):
            conn.link(config.direction).remove_toxic(name)
