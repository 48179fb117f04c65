"""One GET path as fast as possible (or at the steady rate): the benchmark and capacity user.

``INFRATESTS_PATH`` (default ``/health``) is the path requested. With
``INFRATESTS_HEALTH_SECRET`` set, every request carries ``X-Health-Secret``:
the caller is internal, as a load balancer's probes are, and the contract
never rate-limits internal callers (C-HL-4).
"""

from __future__ import annotations

import os

from _common import InfratestsUser
from locust import task

__all__ = ["FixedGetUser"]

_PATH = os.environ.get("INFRATESTS_PATH") or "/health"
_SECRET = os.environ.get("INFRATESTS_HEALTH_SECRET", "")
_HEADERS = {"X-Health-Secret": _SECRET} if _SECRET else None


class FixedGetUser(InfratestsUser):
    @task
    def get(self) -> None:
        self.client.get(_PATH, headers=_HEADERS)
