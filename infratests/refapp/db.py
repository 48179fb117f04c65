"""The Postgres pool (C-POOL-3..5) and the transaction helper (C-TX-1), safe behind PgBouncer.

PgBouncer in transaction pooling mode hands each transaction to any server
connection, so: no server-side prepared statements (``prepare_threshold=None``),
no session ``SET``; statement_timeout is ``SET LOCAL`` inside every transaction
(pgbouncer 1.18 does not forward the libpq ``options`` startup parameter).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from infratests.refapp.settings import Settings

__all__ = ["SCHEMA", "ensure_schema", "open_pool", "pool_stats", "transaction"]

log = logging.getLogger("refapp.db")

SCHEMA = """
CREATE TABLE IF NOT EXISTS refapp_accounts (id int PRIMARY KEY, balance bigint NOT NULL);
CREATE TABLE IF NOT EXISTS refapp_job_fence (job text PRIMARY KEY, token bigint NOT NULL);
CREATE TABLE IF NOT EXISTS refapp_job_sections (
  id bigserial PRIMARY KEY, job text NOT NULL, token bigint NOT NULL, instance text NOT NULL,
  start_ts timestamptz NOT NULL, end_ts timestamptz, accepted boolean NOT NULL DEFAULT false,
  completed boolean NOT NULL DEFAULT false);
CREATE SEQUENCE IF NOT EXISTS refapp_fence_seq;
"""
# Concurrent replicas race on CREATE ... IF NOT EXISTS (catalog unique violations);
# a transaction-scoped advisory lock serialises them and is safe in transaction pooling.
_SCHEMA_LOCK = 7_305_001
_last_warning = 0.0
_ISOLATION_SQL = {"serializable": "SERIALIZABLE", "repeatable_read": "REPEATABLE READ"}


def open_pool(settings: Settings) -> AsyncConnectionPool:
    """Build (not open) the app pool: max 20 / min 2, acquire 5 s, idle 10 s, lifetime 1 h, checked on checkout."""
    holder: list[AsyncConnectionPool] = []
    pool = AsyncConnectionPool(
        settings.database_url,
        min_size=settings.pool_min,
        max_size=settings.pool_max,
        timeout=settings.pool_timeout_ms / 1000,
        max_idle=settings.pool_max_idle_ms / 1000,
        max_lifetime=settings.pool_max_lifetime_s,
        # REFAPP_POOL_CHECK=off (C-POOL-5 mutant): dead connections are handed out unchecked.
        check=_stale_check(holder) if settings.pool_check else None,
        kwargs={
            "autocommit": True,
            "prepare_threshold": None,
            "connect_timeout": 5,
            "application_name": settings.instance,
        },
        open=False,
        name="refapp",
    )
    holder.append(pool)
    return pool


def _stale_check(holder: list[AsyncConnectionPool]) -> Callable[[AsyncConnection[Any]], Awaitable[None]]:
    """Checkout check (C-POOL-5): a dead connection is discarded, and one sweep tests every idle one.

    A restarted server or a cut link kills all idle connections at once; psycopg_pool
    would otherwise find them one by one with a growing backoff (1 s, 2 s, ...) and
    could run a caller past the acquire timeout.
    """
    sweeping: set[asyncio.Task[None]] = set()

    async def check(conn: AsyncConnection[Any]) -> None:
        try:
            await AsyncConnectionPool.check_connection(conn)
        except Exception:
            if holder and not sweeping:
                log.warning("stale db connection discarded; checking the idle ones")
                task = asyncio.ensure_future(holder[0].check())
                sweeping.add(task)
                task.add_done_callback(sweeping.discard)
            raise

    return check


def _preamble(settings: Settings, isolation: str | None) -> str:
    parts = []
    if isolation in _ISOLATION_SQL:
        parts.append(f"SET TRANSACTION ISOLATION LEVEL {_ISOLATION_SQL[isolation]}")
    if settings.statement_timeout_ms:
        # REFAPP_SESSION_SET=on (C-TX-4 mutant): a session SET outlives the transaction in PgBouncer.
        scope = "" if settings.session_set else "LOCAL "
        parts.append(f"SET {scope}statement_timeout = {int(settings.statement_timeout_ms)}")
    return "; ".join(parts)


@asynccontextmanager
async def transaction(
    pool: AsyncConnectionPool, settings: Settings, isolation: str | None = None, timeout: float | None = None
) -> AsyncIterator[AsyncConnection[Any]]:
    """Yield a connection inside BEGIN..COMMIT; an exception in the block rolls back everything (C-TX-1).

    Raises psycopg_pool.PoolTimeout when no connection frees up within the acquire timeout (C-POOL-3).
    """
    async with pool.connection(timeout=timeout) as conn:
        _warn_if_busy(pool, settings)
        async with conn.transaction():
            preamble = _preamble(settings, isolation)
            if preamble:
                await conn.execute(preamble.encode())
            yield conn


def pool_stats(pool: AsyncConnectionPool) -> dict[str, int]:
    """total / idle / active / waiting / max connections of the pool right now."""
    stats = pool.get_stats()
    total = stats.get("pool_size", 0)
    idle = stats.get("pool_available", 0)
    return {
        "total": total,
        "idle": idle,
        "active": total - idle,
        "waiting": stats.get("requests_waiting", 0),
        "max": pool.max_size,
        "min": pool.min_size,
    }


def _warn_if_busy(pool: AsyncConnectionPool, settings: Settings) -> None:
    """Log one warning line per second while usage is above the warn ratio (C-POOL-3 "usage > 80% reported")."""
    global _last_warning
    stats = pool_stats(pool)
    usage = stats["active"] / stats["max"]
    now = time.monotonic()
    if usage > settings.pool_warn_ratio and now - _last_warning >= 1.0:
        _last_warning = now
        log.warning(
            "db pool usage high",
            extra={"pool_usage": round(usage, 3), **{"pool_" + k: v for k, v in stats.items()}},
        )


async def ensure_schema(pool: AsyncConnectionPool, settings: Settings) -> None:
    """Create the app's tables if absent; safe when replicas start at once."""
    async with transaction(pool, settings) as conn:
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        await conn.execute(SCHEMA.encode())
