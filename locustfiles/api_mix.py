"""Mixed API traffic against the reference service (reads, cache writes, quotes, JSON bodies).

Health probes are not user traffic (external callers are rate limited on them,
C-HL-4): the health_check locustfile plays the load balancer.

Run: ``python -m locust -f locustfiles/api_mix.py --host https://127.0.0.1:PORT ApiUser``.
``INFRATESTS_KEYS`` (default 100) bounds the cache key space so reads hit.
"""

from __future__ import annotations

import random

from _common import InfratestsUser, env_int
from locust import task

__all__ = ["ApiUser"]

_KEYS = env_int("INFRATESTS_KEYS", 100)


class ApiUser(InfratestsUser):
    """Weighted mix; a cache miss (404) is a normal answer, so Locust counts it as success."""

    @task(5)
    def cache_get(self) -> None:
        key = f"k{random.randrange(_KEYS)}"
        with self.client.get(f"/cache/{key}", name="/cache/[key]", catch_response=True) as resp:
            if resp.status_code == 404:
                resp.success()

    @task(2)
    def cache_put(self) -> None:
        key = f"k{random.randrange(_KEYS)}"
        self.client.put(f"/cache/{key}", json={"value": random.random()}, name="/cache/[key]")

    @task(2)
    def quote(self) -> None:
        self.client.get("/quote")

    @task(1)
    def accounts(self) -> None:
        self.client.get("/accounts")

    @task(1)
    def json_body(self) -> None:
        self.client.get("/json?bytes=2048", name="/json")
