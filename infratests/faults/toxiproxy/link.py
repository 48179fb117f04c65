"""One proxied connection: two sockets (:mod:`.sides`), two links (upstream, downstream).

Fast path: while a link has no toxic, ``data_received`` writes straight to the
peer transport and the peer's ``pause_writing`` pauses reading on the source
(backpressure without tasks or queues). With toxics, chunks are queued and one
pump task per link drives them through the toxic chain. A live link switches
to the chain when a toxic is added and back to the fast path only once the
queue is drained, so no byte is lost or reordered.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from collections import deque
from typing import TYPE_CHECKING

from .sides import ClientSide, Side
from .toxics import TOXIC_TYPES, Toxic, ToxicConfig

if TYPE_CHECKING:
    from .proxy import Proxy

__all__ = ["Connection", "Link"]

# Queue bound before the source is paused (bytes); the chain itself holds one chunk.
_QUEUE_HIGH = 1 << 20
_QUEUE_LOW = 1 << 18


class Link:
    """One direction of a connection with its toxic chain."""

    def __init__(self, conn: Connection, stream: str, src: Side, dst: Side) -> None:
        self.conn, self.stream, self.src, self.dst = conn, stream, src, dst
        src.reading, dst.writing = self, self
        self.toxics: list[Toxic] = []
        self.eof_sent = False
        self._queue: deque[tuple[bytes | None, float]] = deque()
        self._queued = 0
        self._more = asyncio.Event()
        self._writable = asyncio.Event()
        self._writable.set()
        self._pauses: set[str] = set()
        self._pump: asyncio.Task[None] | None = None

    def feed(self, data: bytes | None) -> None:
        if self.conn.closed:
            return
        if self._pump is None:
            if data is None:
                self._send_eof()
            elif self.dst.transport is not None:
                self.dst.transport.write(data)
            return
        self._queue.append((data, time.monotonic()))
        self._more.set()
        if data is not None:
            self._queued += len(data)
            if self._queued > _QUEUE_HIGH:
                self.pause("queue", True)
        self._ensure_pump()

    def sink_paused(self, paused: bool) -> None:
        if paused:
            self._writable.clear()
        else:
            self._writable.set()
        self.pause("sink", paused)

    def add_toxic(self, config: ToxicConfig) -> None:
        toxic = TOXIC_TYPES[config.type](config, self)
        self.toxics.append(toxic)
        toxic.start()
        self._ensure_pump()

    def remove_toxic(self, name: str, removed: bool = True) -> None:
        for toxic in [t for t in self.toxics if t.config.name == name]:
            self.toxics.remove(toxic)
            toxic.stop(removed)
        self._more.set()

    def replace_toxic(self, config: ToxicConfig) -> None:
        """Restart a toxic with new settings at the same place in the chain."""
        for i, old in enumerate(self.toxics):
            if old.config.name == config.name:
                new = TOXIC_TYPES[config.type](config, self)
                self.toxics[i] = new
                old.stop(removed=False)
                new.start()

    def close(self) -> None:
        for toxic in self.toxics:
            toxic.stop(removed=False)
        self.toxics.clear()
        if self._pump is not None and self._pump is not asyncio.current_task():
            self._pump.cancel()

    def refresh_fast_path(self) -> None:
        """Let the source write straight to the sink iff no toxic chain is running."""
        dst = self.dst.transport
        fast = self._pump is None and dst is not None and not self.conn.closed
        self.src.fast_write = dst.write if fast else None  # type: ignore[union-attr]

    @property
    def paused(self) -> bool:
        return bool(self._pauses)

    def pause(self, reason: str, on: bool) -> None:
        """Reading on the source stops while any reason (sink full, queue full, connecting) holds."""
        was_paused = bool(self._pauses)
        if on:
            self._pauses.add(reason)
        else:
            self._pauses.discard(reason)
        transport = self.src.transport
        if transport is None or transport.is_closing() or was_paused == bool(self._pauses):
            return
        if self._pauses:
            transport.pause_reading()
        else:
            transport.resume_reading()

    def _ensure_pump(self) -> None:
        if self._pump is None and not self.conn.closed:
            self._pump = asyncio.get_running_loop().create_task(self._run())
            self.refresh_fast_path()

    async def _run(self) -> None:
        while not self.conn.closed:
            if not self._queue:
                if not self.toxics:
                    self._pump = None  # fast path again: nothing queued, no toxic
                    self.refresh_fast_path()
                    return
                self._more.clear()
                await self._more.wait()
                continue
            data, arrival = self._queue.popleft()
            if data is not None:
                self._queued -= len(data)
                if self._queued < _QUEUE_LOW:
                    self.pause("queue", False)
            await self._through(list(self.toxics), 0, data, arrival)

    async def _through(self, chain: list[Toxic], i: int, data: bytes | None, arrival: float) -> None:
        if i == len(chain):
            await self._output(data)
        else:
            await chain[i].process(data, arrival, lambda d: self._through(chain, i + 1, d, arrival))

    async def _output(self, data: bytes | None) -> None:
        if data is None:
            self._send_eof()
            return
        await self._writable.wait()
        if self.dst.transport is not None and not self.conn.closed:
            self.dst.transport.write(data)

    def _send_eof(self) -> None:
        if self.eof_sent:
            return
        self.eof_sent = True
        transport = self.dst.transport
        other = self.conn.down if self is self.conn.up else self.conn.up
        if other.eof_sent or transport is None or not transport.can_write_eof():
            self.conn.close()
        else:
            transport.write_eof()


class Connection:
    """A client connection and its upstream connection, with both links."""

    def __init__(self, proxy: Proxy) -> None:
        self.proxy = proxy
        self.closed = False
        self.client = ClientSide(self)
        self.server = Side(self)
        self.up = Link(self, "upstream", self.client, self.server)
        self.down = Link(self, "downstream", self.server, self.client)

    def link(self, stream: str) -> Link:
        return self.up if stream == "upstream" else self.down

    def start(self) -> None:
        self.proxy.track(self)
        for config in self.proxy.toxic_list():
            self.link(config.direction).add_toxic(config)
        self._task = asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        """Connect upstream, start the proxy's toxics on both links, then let the client speak.

        An upstream that cannot be reached (or parsed: Toxiproxy takes any string) closes the client.
        """
        loop = asyncio.get_running_loop()
        try:
            host, port = self.proxy.upstream_address()
            await loop.create_connection(lambda: self.server, host, port)
        except (OSError, ValueError):
            self.close()
            return
        if self.closed:
            self.abort()
            return
        self.client.ready()

    def close(self) -> None:
        """Close both sockets after their buffered data is written (idempotent)."""
        if self._finish():
            for side in (self.client, self.server):
                if side.transport is not None:
                    side.transport.close()

    def abort(self) -> None:
        """Close both sockets now, dropping what is buffered."""
        self._finish()
        for side in (self.client, self.server):
            if side.transport is not None:
                side.transport.abort()

    def reset(self) -> None:
        """Close both sockets with a TCP RST (SO_LINGER 0)."""
        for side in (self.client, self.server):
            sock = side.transport.get_extra_info("socket") if side.transport else None
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.abort()

    def _finish(self) -> bool:
        if self.closed:
            return False
        self.closed = True
        self.up.close()
        self.down.close()
        self.client.fast_write = self.server.fast_write = None
        self.proxy.forget(self)
        return True
