"""The async fixtures a team's own scenarios use: many concurrent requests over one HTTP/2 connection,
and an async database connection through PgBouncer."""

from __future__ import annotations

import asyncio

import httpx
import psycopg
import pytest

from infratests.stack.topology import Stack


@pytest.mark.asyncio
async def test_concurrent_requests_share_one_http2_connection(stack: Stack, async_https: httpx.AsyncClient) -> None:
    path, secret = stack.profile.app.ready_path, {"X-Health-Secret": stack.health_secret}
    answers = await asyncio.gather(*(async_https.get(path, headers=secret) for _ in range(40)))
    assert {answer.status_code for answer in answers} == {200}
    assert {answer.http_version for answer in answers} == {"HTTP/2"}


@pytest.mark.asyncio
async def test_an_async_connection_through_pgbouncer(async_db: psycopg.AsyncConnection) -> None:  # type: ignore[type-arg]
    cursor = await async_db.execute("SELECT current_database(), inet_server_port()")
    assert await cursor.fetchone() is not None
