"""Health probes like a load balancer's: /health, /health/live, /health/ready (C-HL-*, C-GS-2).

A 503 from /health/ready is a real answer (draining, dependency down): it is
recorded as a failed request so checkers can see when readiness flipped.
"""

from __future__ import annotations

from _common import InfratestsUser
from locust import task

__all__ = ["HealthUser"]


class HealthUser(InfratestsUser):
    @task(2)
    def ready(self) -> None:
        self.client.get("/health/ready")

    @task(1)
    def live(self) -> None:
        self.client.get("/health/live")

    @task(1)
    def simple(self) -> None:
        self.client.get("/health")
