"""One GET path as fast as possible (or at the steady rate): the benchmark and capacity user.

``INFRATESTS_PATH`` (default ``/health``) is the path requested.
"""

from __future__ import annotations

import os

from _common import InfratestsUser
from locust import task

__all__ = ["FixedGetUser"]

_PATH = os.environ.get("INFRATESTS_PATH") or "/health"


class FixedGetUser(InfratestsUser):
    @task
    def get(self) -> None:
        self.client.get(_PATH)
