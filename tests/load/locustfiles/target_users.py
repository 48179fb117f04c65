"""Users for the test target (tests/load/target_app.py); ``_common`` comes via the runner's PYTHONPATH."""

from __future__ import annotations

import time

from _common import InfratestsUser
from locust import task


class FastUser(InfratestsUser):
    @task
    def fast(self) -> None:
        self.client.get("/fast")


class MixedUser(InfratestsUser):
    """Every outcome: ok (/fast), fail (/error 500), info (/reset mid-body)."""

    @task(3)
    def fast(self) -> None:
        self.client.get("/fast")

    @task(1)
    def error(self) -> None:
        self.client.get("/error")

    @task(1)
    def reset(self) -> None:
        self.client.get("/reset")


class SlowUser(InfratestsUser):
    @task
    def slow(self) -> None:
        self.client.get("/slow?ms=300", name="/slow")


class LimitedUser(InfratestsUser):
    """Every answer is 429 (a rate limiter that was not lifted)."""

    @task
    def limited(self) -> None:
        self.client.get("/limited")


class StarvedUser(InfratestsUser):
    """Burns 20 ms of CPU before each request: one process cannot send more than ~50 req/s."""

    @task
    def burn_then_get(self) -> None:
        until = time.process_time() + 0.020
        while time.process_time() < until:
            pass
        self.client.get("/fast")
