"""Smoke: every tier carries a real write (C-TX-1, C-RD-3); with the database link down requests
fail fast, then heal (C-POOL-3, C-POOL-5)."""

from __future__ import annotations

import time
import uuid

import httpx
import psycopg
import pytest
import redis

from infratests.faults.nemesis import Nemesis
from infratests.history import Recorder
from infratests.load.workloads.requests import timed_request
from infratests.stack.topology import Stack
from infratests.wait import poll


def _next_transaction_id(stack: Stack) -> int:
    """The id Postgres gives the next writing transaction (reading it assigns none)."""
    with psycopg.connect(stack.admin_dsn, autocommit=True) as admin:
        row = admin.execute("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint").fetchone()
    return int(row[0]) if row else 0


@pytest.mark.gate
@pytest.mark.needs("bank", "redis_cache")
def test_write_through_every_tier_and_read_it_back(stack: Stack, https: httpx.Client) -> None:
    """nginx -> app -> PgBouncer -> Postgres, and app -> Redis, verified at the servers themselves:
    an answered transfer is a commit Postgres saw (C-TX-1); the cache key the app wrote has a TTL (C-RD-3)."""
    seeded = https.post("/accounts/seed", json={"accounts": 3, "balance": 100})
    assert seeded.status_code == 200, seeded.text
    assert seeded.http_version == "HTTP/2", f"C-NGX-1 violated: nginx answered over {seeded.http_version}"
    before = _next_transaction_id(stack)
    moved = https.post("/transfers", json={"from": 0, "to": 1, "amount": 30})
    assert moved.status_code == 200, moved.text
    assert _next_transaction_id(stack) > before, "C-TX-1 violated: the transfer answered 200; Postgres saw no commit"
    balances = https.get("/accounts").json()["balances"]
    assert balances == {"0": 70, "1": 130, "2": 100}, f"C-TX-1 violated: after moving 30 from 0 to 1: {balances}"

    key, value = f"smoke-{uuid.uuid4().hex[:8]}", "written through nginx"
    assert https.put(f"/cache/{key}", content=value).status_code in (200, 201, 204)
    assert https.get(f"/cache/{key}").json()["value"] == value
    node = redis.Redis.from_url(stack["redis-cache"].endpoint.url)
    stored = list(node.scan_iter(match=f"*{key}"))
    assert len(stored) == 1, f"the cache node holds {stored} for the app's key {key!r}"
    ttl = node.ttl(stored[0])
    assert isinstance(ttl, int) and ttl > 0, f"C-RD-3 violated: the app wrote cache key {stored[0]!r} without a TTL"


@pytest.mark.gate
@pytest.mark.chaos
@pytest.mark.needs("db")
def test_pgbouncer_down_fails_db_requests_then_recovers(stack: Stack, https: httpx.Client, faults: Nemesis,
                                                        recorder: Recorder) -> None:
    """C-POOL-3: with app->PgBouncer down, a DB request fails within the acquire timeout, never
    hangs; C-POOL-5: once healed, the pool replaces its dead connections and requests succeed.

    Failing takes up to one acquire timeout per replica: nginx retries a GET's 503 on the next.
    """
    bound_s = stack.profile.promises.acquire_timeout_ms / 1000 * stack.profile.app.replicas + 5.0
    with faults.down("pgbouncer"):
        started = time.monotonic()
        failed = timed_request(https, recorder, "client", "db", "/db/sleep?s=0", timeout=bound_s)
        if failed is None:
            pytest.fail(f"C-POOL-3 violated: with PgBouncer down a DB request hung past {bound_s:.0f} s "
                        f"(acquire timeout {stack.profile.promises.acquire_timeout_ms} ms per replica)")
        took = time.monotonic() - started
        assert failed.status_code >= 500, f"C-POOL-3: with PgBouncer down a DB request answered {failed.status_code}"
        assert took < bound_s, f"C-POOL-3 violated: a DB request took {took:.1f} s to fail"
    def served() -> bool:  # no answer (a timeout while the pool reconnects): not yet recovered
        answer = timed_request(https, recorder, "client", "db", "/db/sleep?s=0")
        return answer is not None and answer.status_code == 200
    recovered = poll(served, bool, 30.0, interval=0.1)
    assert recovered, "C-POOL-5 violated: DB requests did not recover within 30 s of healing"
