"""Health probes like a load balancer's: /health, /health/live, /health/ready (C-HL-*, C-GS-2).

A 503 from /health/ready is a real answer (draining, dependency down): it is
recorded as a failed request so checkers can see when readiness flipped.
With ``INFRATESTS_HEALTH_SECRET`` set, probes carry ``X-Health-Secret`` and
count as internal (a load balancer's), which are never rate limited (C-HL-4).
"""

from __future__ import annotations

import os

from _common import InfratestsUser
from locust import task

__all__ = ["HealthUser"]

_SECRET = os.environ.get("INFRATESTS_HEALTH_SECRET", "")
_HEADERS = {"X-Health-Secret": _SECRET} if _SECRET else {}


class HealthUser(InfratestsUser):
    @task(2)
    def ready(self) -> None:
        self.client.get("/health/ready", headers=_HEADERS)

    @task(1)
    def live(self) -> None:
        self.client.get("/health/live", headers=_HEADERS)

    @task(1)
    def simple(self) -> None:
        self.client.get("/health", headers=_HEADERS)
