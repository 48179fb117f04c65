"""Smoke: every tier of the stack carries a real write, and a fault on a link shows, then heals."""

from __future__ import annotations

import time
import uuid

import httpx
import psycopg
import pytest
import redis

from infratests.faults.network import NetworkFaults
from infratests.stack.topology import Stack


def _next_transaction_id(stack: Stack) -> int:
    """The id Postgres gives the next writing transaction (reading it assigns none)."""
    with psycopg.connect(stack.admin_dsn, autocommit=True) as admin:
        row = admin.execute("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint").fetchone()
    return int(row[0]) if row else 0


@pytest.mark.gate
@pytest.mark.needs("bank", "redis_cache")
def test_write_through_every_tier_and_read_it_back(stack: Stack, https: httpx.Client) -> None:
    """nginx -> app -> PgBouncer -> Postgres, and app -> Redis, verified at the servers themselves."""
    seeded = https.post("/accounts/seed", json={"accounts": 3, "balance": 100})
    assert seeded.status_code == 200, seeded.text
    assert seeded.http_version == "HTTP/2"
    before = _next_transaction_id(stack)
    moved = https.post("/transfers", json={"from": 0, "to": 1, "amount": 30})
    assert moved.status_code == 200, moved.text
    assert _next_transaction_id(stack) > before, "the transfer's write never reached Postgres"
    assert https.get("/accounts").json()["balances"] == {"0": 70, "1": 130, "2": 100}

    key, value = f"smoke-{uuid.uuid4().hex[:8]}", "written through nginx"
    assert https.put(f"/cache/{key}", content=value).status_code in (200, 201, 204)
    assert https.get(f"/cache/{key}").json()["value"] == value
    node = redis.Redis.from_url(stack["redis-cache"].endpoint.url)
    stored = list(node.scan_iter(match=f"*{key}"))
    assert len(stored) == 1 and node.ttl(stored[0]) > 0


@pytest.mark.gate
@pytest.mark.chaos
@pytest.mark.needs("db")
def test_latency_on_postgres_link_shows_through_nginx(stack: Stack, https: httpx.Client,
                                                      faults: NetworkFaults) -> None:
    """A 200 ms latency toxic on PgBouncer->Postgres raises a DB request's latency; healing restores it."""
    def db_request_seconds() -> float:
        started = time.monotonic()
        https.get("/db/sleep", params={"s": 0}).raise_for_status()
        return time.monotonic() - started

    before = min(db_request_seconds() for _ in range(5))
    with faults.latency("postgres", ms=200):
        during = min(db_request_seconds() for _ in range(3))
    after = min(db_request_seconds() for _ in range(5))
    assert during >= before + 0.2, (before, during)
    assert after < during - 0.15, (during, after)


@pytest.mark.gate
@pytest.mark.chaos
@pytest.mark.needs("db")
def test_pgbouncer_down_fails_db_requests_then_recovers(stack: Stack, https: httpx.Client,
                                                        faults: NetworkFaults) -> None:
    """With app->PgBouncer down, a DB request fails (not hangs); heal and it works again.

    Failing takes up to one acquire timeout per replica: nginx retries a GET's 503 on the next.
    """
    bound_s = stack.profile.promises.acquire_timeout_ms / 1000 * stack.profile.app.replicas + 5.0
    with faults.down("pgbouncer"):
        started = time.monotonic()
        failed = https.get("/db/sleep", params={"s": 0}, timeout=bound_s + 10)
        assert failed.status_code >= 500
        assert time.monotonic() - started < bound_s, "a DB request hung instead of failing"
    deadline = time.monotonic() + 30
    while not _answers_200(https, "/db/sleep?s=0"):
        assert time.monotonic() < deadline, "DB requests did not recover within 30 s of healing"
        time.sleep(0.1)


def _answers_200(https: httpx.Client, path: str) -> bool:
    try:
        return https.get(path).status_code == 200
    except httpx.TransportError:  # a timeout while the pool reconnects: not yet recovered
        return False
