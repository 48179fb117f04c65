"""Smoke: every tier of the stack carries a real write, and a fault on a link shows, then heals."""

from __future__ import annotations

import time
import uuid

import httpx
import psycopg
import pytest
import redis

from infratests.stack.topology import Stack


@pytest.mark.gate
def test_write_through_every_tier_and_read_it_back(stack: Stack, https: httpx.Client) -> None:
    """nginx -> app -> PgBouncer -> Postgres, and app -> Redis, verified at the servers themselves."""
    seeded = https.post("/accounts/seed", json={"accounts": 3, "balance": 100})
    assert seeded.status_code == 200, seeded.text
    assert seeded.http_version == "HTTP/2"
    moved = https.post("/transfers", json={"from": 0, "to": 1, "amount": 30})
    assert moved.status_code == 200, moved.text
    with psycopg.connect(stack.admin_dsn.rsplit("/", 1)[0] + f"/{stack.profile.postgres.database}") as db:
        balances = dict(db.execute("select id, balance from refapp_accounts order by id").fetchall())
    assert balances == {0: 70, 1: 130, 2: 100}
    assert https.get("/accounts").json()["total"] == 300

    key, value = f"smoke-{uuid.uuid4().hex[:8]}", "written through nginx"
    assert https.put(f"/cache/{key}", content=value).status_code in (200, 201, 204)
    assert https.get(f"/cache/{key}").json()["value"] == value
    node = redis.Redis.from_url(stack["redis-cache"].endpoint.url)
    stored = [name for name in node.scan_iter(match=f"*{key}")]
    assert len(stored) == 1 and node.ttl(stored[0]) > 0


@pytest.mark.gate
@pytest.mark.chaos
def test_latency_on_postgres_link_shows_through_nginx(stack: Stack, https: httpx.Client, faults) -> None:
    """A 200 ms latency toxic on PgBouncer->Postgres raises a DB request's latency; healing restores it."""
    https.post("/accounts/seed", json={"accounts": 2, "balance": 10}).raise_for_status()

    def db_request_seconds() -> float:
        started = time.monotonic()
        https.get("/accounts").raise_for_status()
        return time.monotonic() - started

    before = min(db_request_seconds() for _ in range(5))
    with faults.latency("postgres", ms=200):
        during = min(db_request_seconds() for _ in range(3))
    after = min(db_request_seconds() for _ in range(5))
    assert during >= before + 0.2, (before, during)
    assert after < during - 0.15, (during, after)


@pytest.mark.gate
@pytest.mark.chaos
def test_pgbouncer_down_fails_db_requests_then_recovers(stack: Stack, https: httpx.Client, faults) -> None:
    """With app->PgBouncer down, a DB request fails (not hangs) while /health stays 200; heal and it works.

    Failing takes up to one acquire timeout (5 s) per replica: nginx retries a GET's 503 on the next.
    """
    https.post("/accounts/seed", json={"accounts": 2, "balance": 10}).raise_for_status()
    bound_s = 5.0 * stack.profile.app.replicas + 5.0
    with faults.down("pgbouncer"):
        started = time.monotonic()
        failed = https.get("/accounts", timeout=bound_s + 10)
        assert failed.status_code >= 500
        assert time.monotonic() - started < bound_s, "a DB request hung instead of failing"
        assert https.get("/health").status_code == 200
    deadline = time.monotonic() + 30
    while not _answers_200(https, "/accounts"):
        assert time.monotonic() < deadline, "DB requests did not recover within 30 s of healing"
        time.sleep(0.1)


def _answers_200(https: httpx.Client, path: str) -> bool:
    try:
        return https.get(path).status_code == 200
    except httpx.TransportError:  # a timeout while the pool reconnects: not yet recovered
        return False
