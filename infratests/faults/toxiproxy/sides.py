"""The two sockets of a proxied connection, as asyncio protocols.

Data a side reads goes to its ``reading`` link: straight to the peer
transport while that link is on the fast path (``fast_write``), else into the
link's toxic chain. Write-buffer pressure on a side pauses its ``writing``
link's source.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .link import Connection, Link

__all__ = ["Side", "ClientSide"]


class Side(asyncio.Protocol):
    """One socket of a connection: feeds ``reading`` and is the sink of ``writing``."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.transport: asyncio.Transport | None = None
        self.reading: Link | None = None
        self.writing: Link | None = None
        # The peer transport's write() while ``reading`` is on the fast path, else None.
        self.fast_write: Callable[[bytes], None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's are not asyncio.Transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport.set_write_buffer_limits(high=256 * 1024)  # type: ignore[attr-defined]
        if self.writing is not None:
            self.writing.refresh_fast_path()

    def data_received(self, data: bytes) -> None:
        write = self.fast_write
        if write is not None:
            write(data)
        else:
            self.reading.feed(data)  # type: ignore[union-attr]

    def eof_received(self) -> bool:
        self.reading.feed(None)  # type: ignore[union-attr]
        return True  # keep the other direction open (half-close)

    def pause_writing(self) -> None:
        self.writing.sink_paused(True)  # type: ignore[union-attr]

    def resume_writing(self) -> None:
        self.writing.sink_paused(False)  # type: ignore[union-attr]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.writing is not None:
            self.writing.refresh_fast_path()
        self.conn.close()


class ClientSide(Side):
    """The accepted socket: silent until the upstream connection is made."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.early: list[bytes | None] | None = []
        transport.pause_reading()  # type: ignore[attr-defined]  # asyncio honours it; uvloop ignores it here
        self.conn.start()

    # uvloop delivers data despite pause_reading() in connection_made: hold it, pause for real.
    def data_received(self, data: bytes) -> None:
        if self.early is None:
            Side.data_received(self, data)
        else:
            self.early.append(data)
            self.reading.pause("connecting", True)  # type: ignore[union-attr]

    def eof_received(self) -> bool:
        if self.early is None:
            self.reading.feed(None)  # type: ignore[union-attr]
        else:
            self.early.append(None)
        return True

    def ready(self) -> None:
        """Upstream is connected: pass on what came early, then read on."""
        early, self.early = self.early or [], None
        for data in early:
            self.reading.feed(data)  # type: ignore[union-attr]
        link = self.reading
        link.pause("connecting", False)  # type: ignore[union-attr]
        if not link.paused and self.transport is not None:  # type: ignore[union-attr]
            self.transport.resume_reading()
