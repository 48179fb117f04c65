"""Long in-flight requests for graceful-shutdown scenarios (C-GS-1, C-GS-4).

Each task is one ``GET /slow?ms=N`` with N from ``INFRATESTS_SLOW_MS``
(default 2000): a SIGTERM to a replica lands while requests are in flight,
and the history shows whether each finished (ok), was refused (fail) or was
cut (info).
"""

from __future__ import annotations

from _common import InfratestsUser, env_int
from locust import task

__all__ = ["SlowUser"]

_SLOW_MS = env_int("INFRATESTS_SLOW_MS", 2000)


class SlowUser(InfratestsUser):
    @task
    def slow(self) -> None:
        self.client.get(f"/slow?ms={_SLOW_MS}", name="/slow")
