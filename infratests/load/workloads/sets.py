"""Set workloads (C-BK-1, C-BK-5): unique adds, then one final read of what is there.

``PgSetWorkload`` inserts each element as an order *and* its ledger line in one
transaction, so a consistent snapshot holds both or neither (a backup taken
table by table does not). ``RedisSetWorkload`` SADDs each element. An add is
``ok`` when the server acknowledged it, ``info`` on any error (it may have
been applied), never ``fail``.
"""

from __future__ import annotations

import time
from functools import partial
from typing import Any, Self

from infratests.history import OpType, Recorder
from infratests.load.workloads.threads import Threads

__all__ = ["ORDERS", "LEDGER", "PgSetWorkload", "RedisSetWorkload", "pg_add_once", "pg_set_read",
           "pg_set_tables",
           "pg_torn_pairs", "redis_set_read"]

ORDERS, LEDGER = "bk_orders", "bk_ledger"
_SCHEMA = (f"CREATE TABLE IF NOT EXISTS {ORDERS} (id bigint PRIMARY KEY);"
           f"CREATE TABLE IF NOT EXISTS {LEDGER} (order_id bigint PRIMARY KEY)")


class _Workers:
    """Threads calling ``_add(process, element)`` with unique elements until exit."""

    workers = 4
    pause_s = 0.0

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self._threads = Threads()
        self._stop = self._threads.stopping

    def __enter__(self) -> Self:
        self._threads.start(*(partial(self._loop, n) for n in range(self.workers)), name="adder")
        return self

    def __exit__(self, *_exc: object) -> None:
        self._threads.stop(10)

    def _loop(self, process: int) -> None:
        client = self._connect()
        try:
            for n in range(10**9):
                if self._stop.wait(self.pause_s):
                    return
                element = process * 10**9 + n
                self.recorder.record(process, OpType.INVOKE, "add", element)
                try:
                    client = self._add(client, element)
                except Exception as error:  # indeterminate: it may have been applied
                    self.recorder.record(process, OpType.INFO, "add", element, repr(error))
                    client = self._reconnect(client)
                else:
                    self.recorder.record(process, OpType.OK, "add", element)
        finally:
            self._close(client)

    def _reconnect(self, client: Any) -> Any:
        self._close(client)
        while not self._stop.is_set():
            try:
                return self._connect()
            except Exception:
                self._stop.wait(0.05)
        return None

    def _connect(self) -> Any:
        raise NotImplementedError

    def _add(self, client: Any, element: int) -> Any:
        raise NotImplementedError

    def _close(self, client: Any) -> None:
        if client is not None:
            client.close()


class PgSetWorkload(_Workers):
    """Adds through ``dsn`` (e.g. PgBouncer): INSERT order + ledger line in one transaction."""

    def __init__(self, dsn: str, recorder: Recorder, workers: int = 4) -> None:
        super().__init__(recorder)
        self.dsn, self.workers = dsn, workers
        pg_set_tables(dsn)

    def _connect(self) -> Any:
        import psycopg

        return psycopg.connect(self.dsn, connect_timeout=5, prepare_threshold=None)

    def _add(self, client: Any, element: int) -> Any:
        with client.transaction():
            _insert_pair(client, element)
        return client


def _insert_pair(conn: Any, element: int) -> None:
    conn.execute(f"INSERT INTO {ORDERS} (id) VALUES (%s)", (element,))
    conn.execute(f"INSERT INTO {LEDGER} (order_id) VALUES (%s)", (element,))


class RedisSetWorkload(_Workers):
    """SADD ``key`` element, one client per worker, ``pause_s`` between adds."""

    def __init__(self, url: str, recorder: Recorder, key: str = "bk:set", workers: int = 2,
                 pause_s: float = 0.002) -> None:
        super().__init__(recorder)
        self.url, self.key, self.workers, self.pause_s = url, key, workers, pause_s

    def _connect(self) -> Any:
        import redis

        return redis.Redis.from_url(self.url, socket_timeout=1.0, socket_connect_timeout=1.0)

    def _add(self, client: Any, element: int) -> Any:
        client.sadd(self.key, element)
        return client


def pg_set_tables(dsn: str) -> None:
    """Create the order and ledger tables at ``dsn`` if absent."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True, prepare_threshold=None) as conn:
        conn.execute(_SCHEMA)


def pg_set_read(dsn: str, recorder: Recorder, process: int | str = "final") -> set[int]:
    """Record one ``read`` of the order ids at ``dsn`` (e.g. the restored copy)."""
    import psycopg

    recorder.record(process, OpType.INVOKE, "read")
    with psycopg.connect(dsn, prepare_threshold=None) as conn:
        ids = [row[0] for row in conn.execute(f"SELECT id FROM {ORDERS} ORDER BY id")]
    recorder.record(process, OpType.OK, "read", ids)
    return set(ids)


def pg_torn_pairs(dsn: str) -> tuple[list[int], list[int]]:
    """Orders without their ledger line, and ledger lines without their order, at ``dsn``."""
    import psycopg

    with psycopg.connect(dsn, prepare_threshold=None) as conn:
        orders = {row[0] for row in conn.execute(f"SELECT id FROM {ORDERS}")}
        ledger = {row[0] for row in conn.execute(f"SELECT order_id FROM {LEDGER}")}
    return sorted(orders - ledger), sorted(ledger - orders)


def redis_set_read(url: str, recorder: Recorder, key: str = "bk:set",
                   process: int | str = "final", timeout_s: float = 10.0) -> set[int]:
    """Record one ``read`` (SMEMBERS), retrying while Redis is still loading its AOF."""
    import redis

    recorder.record(process, OpType.INVOKE, "read")
    deadline = time.monotonic() + timeout_s
    client = redis.Redis.from_url(url, socket_timeout=2.0)
    try:
        while True:
            try:
                members = sorted(int(m) for m in client.smembers(key))  # type: ignore[union-attr]
                break
            except redis.exceptions.BusyLoadingError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
    finally:
        client.close()
    recorder.record(process, OpType.OK, "read", members)
    return set(members)


def pg_add_once(dsn: str, recorder: Recorder, element: int, process: int | str = "once") -> bool:
    """One recorded add on a new connection (order + ledger line in one transaction); True if ok."""
    import psycopg

    try:
        with recorder.op(process, "add", element):
            with psycopg.connect(dsn, connect_timeout=5, prepare_threshold=None) as conn:
                _insert_pair(conn, element)
                conn.commit()  # a cut here, after COMMIT reached the server, is the case C-TX-2 is about
    except psycopg.Error:
        return False
    return True
