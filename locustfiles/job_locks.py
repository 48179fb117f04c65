"""Contending job runs over the distributed lock (C-LOCK-1): many users run the same few jobs.

``INFRATESTS_JOBS`` (default 3) job names, ``INFRATESTS_WORK_MS`` (default
50) of work inside the critical section. Losing the lock (409/423) is a
normal answer and counts as a Locust success; the history keeps the status.
"""

from __future__ import annotations

import random

from _common import InfratestsUser, env_int
from locust import task

__all__ = ["JobUser"]

_JOBS = env_int("INFRATESTS_JOBS", 3)
_WORK_MS = env_int("INFRATESTS_WORK_MS", 50)


class JobUser(InfratestsUser):
    @task
    def run_job(self) -> None:
        name = f"job{random.randrange(_JOBS)}"
        with self.client.post(f"/jobs/{name}/run?work_ms={_WORK_MS}", name="/jobs/[name]/run",
                              catch_response=True) as resp:
            if resp.status_code in (409, 423):
                resp.success()
