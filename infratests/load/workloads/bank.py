"""The bank workload (C-TX-3, C-BK-1): random transfers plus snapshot reads, recorded as a history.

Two tellers run the same workload: :class:`BankWorkload` through the app
(``/transfers``, ``/accounts``: the ``bank`` capability), and
:class:`SqlBankWorkload` straight through PgBouncer in the suite's own table,
for claims about the database tier that must hold whatever the app is.

Transfers are recorded ``ok`` when done, ``fail`` when certainly refused
(HTTP 400/404/409/422, or insufficient funds in SQL: nothing changed) and
``info`` otherwise (timeouts, resets, 5xx: the transfer may or may not have
happened). Reads record the balances they saw, all from one snapshot.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Self

import httpx

from infratests.history import OpType, Recorder
from infratests.load.workloads.requests import client_for
from infratests.load.workloads.threads import Threads

__all__ = ["BANK_TABLE", "BankSpec", "BankWorkload", "DEFINITE_REFUSALS", "SqlBankWorkload"]

DEFINITE_REFUSALS = frozenset({400, 404, 409, 422})
BANK_TABLE = "infratests_bank"


@dataclass(frozen=True)
class BankSpec:
    """How many accounts, their starting balance, and how hard to push."""

    accounts: int = 5
    balance: int = 100
    workers: int = 4
    max_amount: int = 30
    read_every_s: float = 0.05
    timeout_s: float = 5.0
    pause_after_error_s: float = 0.01  # a failing stack is not hammered in a tight loop
    one_way: bool = False  # every transfer leaves account 0: the others' sum only grows (a counter)

    @property
    def total(self) -> int:
        return self.accounts * self.balance

    @property
    def names(self) -> list[str]:
        return [str(i) for i in range(self.accounts)]


class BankWorkload:
    """``with BankWorkload(url, recorder, ca_file=...) as bank:`` transfers and reads through the app until exit."""

    def __init__(self, base_url: str, recorder: Recorder, spec: BankSpec = BankSpec(),
                 ca_file: Path | None = None, seed: int = 0) -> None:
        self.base_url, self.recorder, self.spec = base_url, recorder, spec
        self._ca_file = ca_file
        self._threads = Threads()
        self._stop = self._threads.stopping
        self._random = random.Random(seed)
        self.transfers = 0

    def session(self) -> AbstractContextManager[Any]:
        """One worker's connection to the bank."""
        return client_for(self.base_url, self._ca_file, self.spec.timeout_s)

    def seed(self) -> None:
        """Reset the bank to ``accounts`` x ``balance`` (not recorded: it is the setup)."""
        with self.session() as http:
            http.post("/accounts/seed", json={"accounts": self.spec.accounts,
                                              "balance": self.spec.balance}).raise_for_status()

    def __enter__(self) -> Self:
        seeds = [self._random.randrange(2**32) for _ in range(self.spec.workers)]
        loops = [partial(self._transfer_loop, n, seed) for n, seed in enumerate(seeds)]
        self._threads.start(*loops, self._read_loop, name="bank")
        return self

    def __exit__(self, *_exc: object) -> None:
        self._threads.stop(self.spec.timeout_s + 5)

    def read(self, process: int | str = "final") -> dict[str, int] | None:
        """One recorded snapshot read; the balances, or None if it did not succeed."""
        with self.session() as session:
            return self._read(session, process)

    def _transfer_loop(self, process: int, seed: int) -> None:
        rng = random.Random(seed)
        with self.session() as session:
            while not self._stop.is_set():
                src, dst = rng.sample(range(self.spec.accounts), 2)
                if self.spec.one_way:
                    src, dst = 0, rng.randrange(1, self.spec.accounts)
                value = {"from": src, "to": dst, "amount": rng.randint(1, self.spec.max_amount)}
                if not self._transfer(session, process, value):
                    self._stop.wait(self.spec.pause_after_error_s)

    def _transfer(self, session: Any, process: int, value: dict[str, int]) -> bool:
        """One recorded transfer; False when it ended indeterminate (info)."""
        self.recorder.record(process, OpType.INVOKE, "transfer", value)
        try:
            kind, status = self._send_transfer(session, value)
        except Exception as error:  # no answer: the transfer may or may not have happened
            self.recorder.record(process, OpType.INFO, "transfer", value, repr(error)[:300])
            return False
        self.transfers += 1
        self.recorder.record(process, kind, "transfer", value,
                             None if kind is OpType.OK else f"status {status}", status=status)
        return kind is not OpType.INFO

    def _send_transfer(self, http: httpx.Client, value: dict[str, int]) -> tuple[OpType, int]:
        status = http.post("/transfers", json=value).status_code
        return (OpType.OK if status == 200 else OpType.FAIL if status in DEFINITE_REFUSALS else OpType.INFO), status

    def _read_loop(self) -> None:
        with self.session() as session:
            while not self._stop.wait(self.spec.read_every_s):
                self._read(session, "reader")

    def _read(self, session: Any, process: int | str) -> dict[str, int] | None:
        self.recorder.record(process, OpType.INVOKE, "read")
        try:
            balances = self._send_read(session)
        except _Refused as refused:  # a read changes nothing: a refused read is a definite failure
            self.recorder.record(process, OpType.FAIL, "read", None, str(refused))
            return None
        except Exception as error:
            self.recorder.record(process, OpType.INFO, "read", None, repr(error)[:300])
            return None
        self.recorder.record(process, OpType.OK, "read", balances)
        return balances

    def _send_read(self, http: httpx.Client) -> dict[str, int]:
        response = http.get("/accounts")
        if response.status_code != 200:
            raise _Refused(f"HTTP {response.status_code}")
        return dict(response.json()["balances"])


class _Refused(Exception):
    """The bank answered that it did not do the operation."""


class SqlBankWorkload(BankWorkload):
    """The same workload in the suite's own table (:data:`BANK_TABLE`), through ``dsn`` (PgBouncer):
    READ COMMITTED transfers that lock both rows in id order; reads in one REPEATABLE READ snapshot."""

    def __init__(self, dsn: str, recorder: Recorder, spec: BankSpec = BankSpec(), seed: int = 0) -> None:
        super().__init__(dsn, recorder, spec, None, seed)

    @contextmanager
    def session(self) -> Iterator[Any]:
        import psycopg

        with psycopg.connect(self.base_url, autocommit=True, prepare_threshold=None,
                             connect_timeout=int(self.spec.timeout_s)) as conn:
            yield conn

    def seed(self) -> None:
        with self.session() as conn, conn.transaction():
            conn.execute(f"CREATE TABLE IF NOT EXISTS {BANK_TABLE} (id int PRIMARY KEY, balance bigint NOT NULL)")
            conn.execute(f"TRUNCATE {BANK_TABLE}")
            conn.cursor().executemany(f"INSERT INTO {BANK_TABLE} VALUES (%s, %s)",
                                      [(i, self.spec.balance) for i in range(self.spec.accounts)])

    def _send_transfer(self, conn: Any, value: dict[str, int]) -> tuple[OpType, int]:
        with conn.transaction():
            rows = dict(conn.execute(f"SELECT id, balance FROM {BANK_TABLE} WHERE id = ANY(%s) ORDER BY id "
                                     "FOR UPDATE", ([value["from"], value["to"]],)).fetchall())
            if rows.get(value["from"], 0) < value["amount"]:
                return OpType.FAIL, 409
            conn.execute(f"UPDATE {BANK_TABLE} SET balance = balance - %s WHERE id = %s",
                         (value["amount"], value["from"]))
            conn.execute(f"UPDATE {BANK_TABLE} SET balance = balance + %s WHERE id = %s",
                         (value["amount"], value["to"]))
        return OpType.OK, 200

    def _send_read(self, conn: Any) -> dict[str, int]:
        with conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            return {str(i): b for i, b in conn.execute(f"SELECT id, balance FROM {BANK_TABLE}").fetchall()}
