"""Toxics: one class per Toxiproxy toxic type, run per connection-link.

A :class:`ToxicConfig` is what the API stores (name, type, stream, toxicity,
attributes). When a toxic starts on a link (a new connection, or a toxic added
to an open one) its class is instantiated for that link; toxicity is rolled
once there and sticks for the link's life. A link pushes every chunk (or
``None`` for end-of-stream) through its toxics in insertion order; each toxic
calls ``emit`` to pass data on. Every wait is interruptible: when a toxic is
removed its waits end at once, so whatever it holds is flushed, in order.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from .link import Link

__all__ = ["ToxicConfig", "Toxic", "TOXIC_TYPES", "STREAMS"]

Emit = Callable[[bytes | None], Awaitable[None]]
STREAMS = ("upstream", "downstream")  # any case, as Toxiproxy parses them


@dataclass
class ToxicConfig:
    """A toxic as the API shows it; ``attributes`` holds every attribute of its type.

    ``stream`` is kept as the client spelled it (Toxiproxy takes any case), ``direction`` is its link.
    """

    name: str
    type: str
    stream: str
    toxicity: float
    attributes: dict[str, int] = field(default_factory=dict)

    @property
    def direction(self) -> str:
        return self.stream.lower()

    def to_json(self) -> dict[str, Any]:
        toxicity = self.toxicity
        return {
            "attributes": dict(self.attributes),
            "name": self.name,
            "type": self.type,
            "stream": self.stream,
            # Toxiproxy writes a whole toxicity as an integer (1, not 1.0): the same number either way.
            "toxicity": int(toxicity) if toxicity.is_integer() else toxicity,
        }


class Toxic:
    """One toxic running on one link; subclasses override the ``_on_*`` hooks."""

    TYPE: ClassVar[str] = ""
    ATTRIBUTES: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: ToxicConfig, link: Link) -> None:
        self.config = config
        self.link = link
        self.active = random.random() < config.toxicity
        self.stopped = False
        self._wake: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def attr(self, key: str) -> int:
        return self.config.attributes.get(key, 0)

    def start(self) -> None:
        """Called once when the toxic begins on its link."""
        if self.active:
            self._on_start()

    def stop(self, removed: bool) -> None:
        """End every wait now (flushing held data); ``removed`` is False on an update."""
        self.stopped = True
        if not self._wake.done():
            self._wake.set_result(None)
        if self.active:
            self._on_stop(removed)

    async def process(self, data: bytes | None, arrival: float, emit: Emit) -> None:
        if not self.active or self.stopped:
            await emit(data)
        elif data is None:
            await self._on_eof(emit)
        else:
            await self._on_data(data, arrival, emit)

    async def sleep(self, seconds: float | None) -> None:
        """Sleep ``seconds`` (None: forever) unless the toxic stops first."""
        if self.stopped or (seconds is not None and seconds <= 0):
            return
        await asyncio.wait([self._wake], timeout=seconds)

    def _on_start(self) -> None:
        pass

    def _on_stop(self, removed: bool) -> None:
        pass

    async def _on_data(self, data: bytes, arrival: float, emit: Emit) -> None:
        await emit(data)

    async def _on_eof(self, emit: Emit) -> None:
        await emit(None)


class Latency(Toxic):
    """Each chunk leaves ``latency`` ± uniform ``jitter`` ms after it arrived."""

    TYPE = "latency"
    ATTRIBUTES = ("latency", "jitter")

    async def _on_data(self, data: bytes, arrival: float, emit: Emit) -> None:
        jitter = self.attr("jitter")
        delay_ms = self.attr("latency") + (random.uniform(-jitter, jitter) if jitter else 0)
        await self.sleep(arrival + delay_ms / 1000 - time.monotonic())
        await emit(data)


class Bandwidth(Toxic):
    """Throttle to ``rate`` KB/s (1 KB = 1000 bytes); rate 0 holds all data until removed."""

    TYPE = "bandwidth"
    ATTRIBUTES = ("rate",)

    def _on_start(self) -> None:
        self._next = 0.0

    async def _on_data(self, data: bytes, arrival: float, emit: Emit) -> None:
        while data:
            rate = self.attr("rate") * 1000
            if rate <= 0 and not self.stopped:
                await self.sleep(None)
            if self.stopped:
                await emit(data)
                return
            # 100 ms worth per piece keeps the rate smooth at any chunk size.
            piece = data[: max(1, rate // 10)]
            self._next = max(self._next, time.monotonic()) + len(piece) / rate
            await self.sleep(self._next - time.monotonic())
            await emit(piece)
            data = data[len(piece):]


class SlowClose(Toxic):
    """Hold the end-of-stream back by ``delay`` ms."""

    TYPE = "slow_close"
    ATTRIBUTES = ("delay",)

    async def _on_eof(self, emit: Emit) -> None:
        await self.sleep(self.attr("delay") / 1000)
        await emit(None)


class Timeout(Toxic):
    """Drop all data; close after ``timeout`` ms without incoming data (0: never).

    The idle timer restarts with each chunk. Removing the toxic closes the
    connection (Toxiproxy's behaviour: the dropped data cannot be recovered).
    """

    TYPE = "timeout"
    ATTRIBUTES = ("timeout",)
    _timer: asyncio.TimerHandle | None = None

    def _on_start(self) -> None:
        self._arm()

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        ms = self.attr("timeout")
        if ms > 0:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(ms / 1000, self.link.conn.close)

    def _on_stop(self, removed: bool) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if removed:
            self.link.conn.close()

    async def _on_data(self, data: bytes, arrival: float, emit: Emit) -> None:
        self._arm()


class ResetPeer(Toxic):
    """From the first chunk on, drop data; ``timeout`` ms later reset both sockets (RST)."""

    TYPE = "reset_peer"
    ATTRIBUTES = ("timeout",)
    _timer: asyncio.TimerHandle | None = None

    def _on_stop(self, removed: bool) -> None:
        if self._timer is not None:
            self._timer.cancel()

    async def _on_data(self, data: bytes, arrival: float, emit: Emit) -> None:
        if self._timer is None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self.attr("timeout") / 1000, self.link.conn.reset)


class Slicer(Toxic):
    """Split chunks into pieces of ``average_size`` ± ``size_variation`` bytes, ``delay`` µs apart."""

    TYPE = "slicer"
    ATTRIBUTES = ("average_size", "size_variation", "delay")

    def _cuts(self, size: int) -> list[int]:
        """Cut points (as Toxiproxy: bisect until a piece is within the variation)."""
        avg, var = max(1, self.attr("average_size")), max(0, self.attr("size_variation"))
        cuts, stack = [], [(0, size)]
        while stack:
            start, end = stack.pop()
            if (end - start) - avg <= var or end - start < 2:
                cuts.append(end)
                continue
            mid = start + (end - start) // 2
            if var:
                mid = min(end - 1, max(start + 1, mid + random.randint(-var, var)))
            stack.extend([(mid, end), (start, mid)])
        return cuts

    async def _on_data(self, data: bytes, arrival: float, emit: Emit) -> None:
        start = 0
        for end in self._cuts(len(data)):
            if start:
                await self.sleep(self.attr("delay") / 1_000_000)
            await emit(data[start:end])
            start = end


class LimitData(Toxic):
    """Close the connection once ``bytes`` have passed; the crossing chunk is truncated."""

    TYPE = "limit_data"
    ATTRIBUTES = ("bytes",)

    def _on_start(self) -> None:
        self._passed = 0

    async def _on_data(self, data: bytes, arrival: float, emit: Emit) -> None:
        left = self.attr("bytes") - self._passed
        if left > 0:
            piece = data[:left]
            self._passed += len(piece)
            await emit(piece)
        if self._passed >= self.attr("bytes"):
            self.link.conn.close()


TOXIC_TYPES: dict[str, type[Toxic]] = {
    cls.TYPE: cls for cls in (Latency, Bandwidth, SlowClose, Timeout, ResetPeer, Slicer, LimitData)
}
