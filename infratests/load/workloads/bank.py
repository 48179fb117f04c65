"""The bank workload over HTTP (C-TX-3, C-BK-1): random transfers plus snapshot reads.

Transfers are recorded ``ok`` on 200, ``fail`` on 400/404/409 (the app did
nothing: it answered that the transfer was refused) and ``info`` otherwise
(timeouts, resets, 5xx: the transfer may or may not have happened). Reads are
``GET /accounts`` and record the balances they saw.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Self

import httpx

from infratests.checks.history import OpType, Recorder
from infratests.load.workloads.requests import client_for
from infratests.load.workloads.threads import Threads

__all__ = ["BankSpec", "BankWorkload", "DEFINITE_REFUSALS"]

DEFINITE_REFUSALS = frozenset({400, 404, 409})


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
    """``with BankWorkload(url, recorder, ca_file=...) as bank:`` transfers and reads until exit."""

    def __init__(self, base_url: str, recorder: Recorder, spec: BankSpec = BankSpec(),
                 ca_file: Path | None = None, seed: int = 0) -> None:
        self.base_url, self.recorder, self.spec = base_url, recorder, spec
        self._ca_file = ca_file
        self._threads = Threads()
        self._stop = self._threads.stopping
        self._random = random.Random(seed)
        self.transfers = 0

    def client(self) -> httpx.Client:
        return client_for(self.base_url, self._ca_file, self.spec.timeout_s)

    def seed(self) -> None:
        """Reset the bank to ``accounts`` x ``balance`` (not recorded: it is the setup)."""
        with self.client() as http:
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
        with self.client() as http:
            return self._read(http, process)

    def _transfer_loop(self, process: int, seed: int) -> None:
        rng = random.Random(seed)
        with self.client() as http:
            while not self._stop.is_set():
                src, dst = rng.sample(range(self.spec.accounts), 2)
                if self.spec.one_way:
                    src, dst = 0, rng.randrange(1, self.spec.accounts)
                value = {"from": src, "to": dst, "amount": rng.randint(1, self.spec.max_amount)}
                if not self._transfer(http, process, value):
                    self._stop.wait(self.spec.pause_after_error_s)

    def _transfer(self, http: httpx.Client, process: int, value: dict[str, int]) -> bool:
        """One recorded transfer; False when it ended indeterminate (info)."""
        self.recorder.record(process, OpType.INVOKE, "transfer", value)
        try:
            response = http.post("/transfers", json=value)
        except httpx.HTTPError as error:
            self.recorder.record(process, OpType.INFO, "transfer", value, repr(error))
            return False
        self.transfers += 1
        status = response.status_code
        kind = OpType.OK if status == 200 else OpType.FAIL if status in DEFINITE_REFUSALS else OpType.INFO
        self.recorder.record(process, kind, "transfer", value,
                             None if kind is OpType.OK else f"HTTP {status}", status=status)
        return kind is not OpType.INFO

    def _read_loop(self) -> None:
        with self.client() as http:
            while not self._stop.wait(self.spec.read_every_s):
                self._read(http, "reader")

    def _read(self, http: httpx.Client, process: int | str) -> dict[str, int] | None:
        self.recorder.record(process, OpType.INVOKE, "read")
        try:
            response = http.get("/accounts")
        except httpx.HTTPError as error:
            self.recorder.record(process, OpType.INFO, "read", None, repr(error))
            return None
        if response.status_code != 200:
            # a read changes nothing: a refused read is a definite failure
            self.recorder.record(process, OpType.FAIL, "read", None, f"HTTP {response.status_code}")
            return None
        balances = response.json()["balances"]
        self.recorder.record(process, OpType.OK, "read", balances)
        return dict(balances)
