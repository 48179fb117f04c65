"""PgBouncer's pool during a capacity run (C-CAP-2): sampled twice a second, summarised per step.

``SHOW POOLS`` gives the clients active and waiting, the server connections
and the longest current wait; ``SHOW STATS`` the transactions and the total
time clients waited for a server. Every database but PgBouncer's own console
is summed. Per step: the peaks of the first, and from the second the
transactions per second and the mean wait per transaction.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Self

__all__ = ["PoolSample", "PoolSampler", "PoolWindow", "pgbouncer_probe", "pool_sample"]

_SERVER_STATES = ("sv_active", "sv_idle", "sv_used", "sv_tested", "sv_login")


@dataclass(frozen=True)
class PoolSample:
    wall: float
    clients_active: int
    clients_waiting: int
    servers_active: int
    server_connections: int
    max_wait_ms: float
    transactions: int
    wait_us: int


@dataclass(frozen=True)
class PoolWindow:
    """One step's pool: peaks over its samples, rates between its first and last sample."""

    samples: int
    clients_active: int
    clients_waiting: int
    servers_active: int
    server_connections: int
    max_wait_ms: float
    transactions_per_s: float
    mean_wait_ms: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def pool_sample(pools: Sequence[Mapping[str, Any]], stats: Sequence[Mapping[str, Any]]) -> PoolSample:
    """One sample from ``SHOW POOLS`` and ``SHOW STATS`` rows."""
    pools = [row for row in pools if row.get("database") != "pgbouncer"]
    stats = [row for row in stats if row.get("database") != "pgbouncer"]

    def total(rows: Sequence[Mapping[str, Any]], *names: str) -> int:
        return sum(int(row.get(name) or 0) for row in rows for name in names)

    waits = [int(row.get("maxwait") or 0) * 1000 + int(row.get("maxwait_us") or 0) / 1000 for row in pools]
    return PoolSample(time.time(), total(pools, "cl_active"), total(pools, "cl_waiting"),
                      total(pools, "sv_active"), total(pools, *_SERVER_STATES), max(waits, default=0.0),
                      total(stats, "total_xact_count"), total(stats, "total_wait_time"))


def pgbouncer_probe(admin_dsn: str) -> Callable[[], PoolSample]:
    """A probe of PgBouncer's admin console at ``admin_dsn`` (``SHOW POOLS`` and ``SHOW STATS``)."""
    from infratests.stack.pgbouncer import show
    from infratests.stack.service import Endpoint

    console = Endpoint("", 0, "", {"admin": admin_dsn})
    return lambda: pool_sample(show(console, "POOLS"), show(console, "STATS"))


class PoolSampler:
    """``with PoolSampler(probe):`` samples ``probe()`` every ``every_s`` in a thread until exit.

    A probe that fails (PgBouncer restarting) leaves a gap, never an error.
    """

    def __init__(self, probe: Callable[[], PoolSample], every_s: float = 0.5) -> None:
        self._probe, self._every_s = probe, every_s
        self._samples: list[PoolSample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="pool-sampler", daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._samples.append(self._probe())
            except Exception:  # noqa: BLE001 - a gap in the samples, reported as such per step
                pass
            self._stop.wait(self._every_s)

    def window(self, start: float, end: float) -> PoolWindow | None:
        """The samples taken between two wall times; None when fewer than two."""
        inside = [sample for sample in list(self._samples) if start <= sample.wall <= end]
        if len(inside) < 2:
            return None
        first, last = inside[0], inside[-1]
        seconds = last.wall - first.wall
        done = last.transactions - first.transactions
        return PoolWindow(
            len(inside), max(s.clients_active for s in inside), max(s.clients_waiting for s in inside),
            max(s.servers_active for s in inside), max(s.server_connections for s in inside),
            max(s.max_wait_ms for s in inside), done / seconds if seconds > 0 else 0.0,
            (last.wait_us - first.wait_us) / done / 1000 if done > 0 else 0.0)
