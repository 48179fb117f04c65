"""Users for the test target (tests/load/target_app.py); ``_common`` comes via the runner's PYTHONPATH."""

from __future__ import annotations

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
