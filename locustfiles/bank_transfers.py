"""The bank workload over HTTP (C-TX-3): seed once, then concurrent transfers and balance reads.

``INFRATESTS_ACCOUNTS`` (default 10) accounts with ``INFRATESTS_BALANCE``
(default 100) each are seeded at test start by the first process that runs
(the master or a standalone Locust), unless ``INFRATESTS_SEED=0`` (a scenario
that seeded the bank itself and runs this as background load). A transfer that gets no answer is
indeterminate (info in the history); the invariant (sum of balances) is
checked afterwards from ``GET /accounts``.
"""

from __future__ import annotations

import os
import random
from typing import Any

from _common import InfratestsUser, env_int
from locust import events, task
from locust.runners import WorkerRunner

__all__ = ["TransferUser"]

_ACCOUNTS = env_int("INFRATESTS_ACCOUNTS", 10)
_BALANCE = env_int("INFRATESTS_BALANCE", 100)


@events.test_start.add_listener
def _seed(environment: Any, **_: Any) -> None:
    if isinstance(environment.runner, WorkerRunner) or environment.host is None:
        return
    if os.environ.get("INFRATESTS_SEED", "1") == "0":
        return
    user = TransferUser(environment)
    user.client.post("/accounts/seed", json={"accounts": _ACCOUNTS, "balance": _BALANCE})


class TransferUser(InfratestsUser):
    """Transfers between random distinct accounts (ids 0..N-1); 409 (insufficient funds) is an answer."""

    @task(8)
    def transfer(self) -> None:
        src, dst = random.sample(range(_ACCOUNTS), 2)
        body = {"from": src, "to": dst, "amount": random.randint(1, 10)}
        with self.client.post("/transfers", json=body, catch_response=True) as resp:
            if resp.status_code in (409, 422):
                resp.success()

    @task(1)
    def balances(self) -> None:
        self.client.get("/accounts")
