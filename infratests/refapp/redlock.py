"""Redlock over independent Redis nodes (C-LOCK-1..3, C-LOCK-5), following the published algorithm.

Acquire: ``SET key owner NX PX ttl`` on every node with a short per-node timeout;
the lock is held when a majority said OK and the validity time
``ttl - elapsed - (ttl * drift_factor + 2 ms)`` is still positive; otherwise every
node is released. Release and extend are owner-checked Lua scripts, so a lock is
only ever deleted or prolonged by the owner that set it (C-LOCK-2).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass
from typing import Any

from infratests.errors import InfratestsError

__all__ = [
    "Lease",
    "LockContended",
    "LockUnavailable",
    "Redlock",
    "quorum",
    "validity_ms",
]

_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"
_EXTEND = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2])"
    " else return 0 end"
)
_CLOCK_DRIFT_CONSTANT_MS = 2.0


class LockContended(InfratestsError):
    """A majority of nodes answered but another owner holds the lock (HTTP 409)."""


class LockUnavailable(InfratestsError):
    """Fewer than a majority of nodes answered: the lock is never granted then (HTTP 503, C-LOCK-3)."""


def quorum(nodes: int) -> int:
    """The majority of ``nodes``: 2 of 3, 3 of 5."""
    return nodes // 2 + 1


def validity_ms(ttl_ms: int, elapsed_ms: float, drift_factor: float) -> float:
    """Time the lock is still safely held after acquiring took ``elapsed_ms`` (may be <= 0)."""
    return ttl_ms - elapsed_ms - (ttl_ms * drift_factor + _CLOCK_DRIFT_CONSTANT_MS)


@dataclass(frozen=True)
class Lease:
    """A granted lock: ``deadline`` is the monotonic time its validity ends (inf without a TTL)."""

    resource: str
    owner: str
    deadline: float


class Redlock:
    """Acquire, extend and release one named lock on ``clients`` (redis.asyncio clients, one per node)."""

    def __init__(
        self,
        clients: list[Any],
        ttl_ms: int,
        drift_factor: float = 0.01,
        node_timeout_s: float = 0.2,
        need: int = 0,
        owner_check: bool = True,
    ):
        self.clients = clients
        self.ttl_ms = ttl_ms
        self.drift_factor = drift_factor
        self.node_timeout_s = node_timeout_s
        self.need = need or quorum(len(clients))  # anything below a majority is the C-LOCK-3 mutant
        self.owner_check = owner_check  # off: release deletes whoever's lock it finds (C-LOCK-2 mutant)

    async def acquire(self, resource: str) -> Lease:
        """Take the lock or raise :class:`LockContended` / :class:`LockUnavailable`; never grants without a majority."""
        owner = secrets.token_hex(16)
        started = time.monotonic()
        results = await self._on_all(self._set_nx, resource, owner)
        elapsed_ms = (time.monotonic() - started) * 1000
        granted = sum(1 for r in results if r is True)
        answered = sum(1 for r in results if not isinstance(r, BaseException))
        need = self.need
        remaining = validity_ms(self.ttl_ms, elapsed_ms, self.drift_factor) if self.ttl_ms else float("inf")
        if granted >= need and remaining > 0:
            return Lease(resource, owner, started + remaining / 1000)
        await self._on_all(self._release_one, resource, owner)
        if answered < need:
            raise LockUnavailable(
                f"lock {resource!r}: only {answered}/{len(self.clients)} nodes answered", resource
            )
        raise LockContended(f"lock {resource!r} is held ({granted}/{len(self.clients)} granted)", resource)

    async def extend(self, lease: Lease) -> Lease:
        """Reset the TTL on the owner's keys; raise :class:`LockUnavailable` unless a majority still holds it."""
        started = time.monotonic()
        results = await self._on_all(self._extend_one, lease.resource, lease.owner)
        elapsed_ms = (time.monotonic() - started) * 1000
        remaining = validity_ms(self.ttl_ms, elapsed_ms, self.drift_factor)
        if sum(1 for r in results if r is True) >= self.need and remaining > 0:
            return Lease(lease.resource, lease.owner, started + remaining / 1000)
        raise LockUnavailable(f"lock {lease.resource!r} could not be extended: lost", lease.resource)

    async def release(self, lease: Lease) -> None:
        """Delete the lock on every node where this owner still holds it (compare-and-delete)."""
        await self._on_all(self._release_one, lease.resource, lease.owner)

    async def _on_all(self, op: Any, resource: str, owner: str) -> list[Any]:
        calls = [
            asyncio.wait_for(op(client, resource, owner), self.node_timeout_s) for client in self.clients
        ]
        return await asyncio.gather(*calls, return_exceptions=True)

    async def _set_nx(self, client: Any, resource: str, owner: str) -> bool:
        px = self.ttl_ms or None
        return bool(await client.set(resource, owner, nx=True, px=px))

    async def _extend_one(self, client: Any, resource: str, owner: str) -> bool:
        return bool(await client.eval(_EXTEND, 1, resource, owner, self.ttl_ms))

    async def _release_one(self, client: Any, resource: str, owner: str) -> bool:
        if not self.owner_check:
            return bool(await client.delete(resource))
        return bool(await client.eval(_RELEASE, 1, resource, owner))
