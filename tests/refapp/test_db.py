"""Pool bounds, statement timeout and transactions through real PgBouncer (C-POOL-3/4, C-TX-1/3)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import time

import httpx
import pytest

from infratests.refapp.db import open_pool, transaction
from infratests.refapp.settings import load_settings


def test_transaction_helper_commits_or_rolls_back(app_env):  # C-TX-1
    settings = load_settings({**app_env, "REFAPP_POOL_MIN": "1", "REFAPP_POOL_MAX": "2"})

    async def scenario() -> list:
        async with open_pool(settings) as pool:
            async with transaction(pool, settings) as conn:
                await conn.execute("CREATE TABLE IF NOT EXISTS t_tx (v int)")
                await conn.execute("DELETE FROM t_tx")
            with pytest.raises(RuntimeError):
                async with transaction(pool, settings) as conn:
                    await conn.execute("INSERT INTO t_tx VALUES (1)")
                    await conn.execute("INSERT INTO t_tx VALUES (2)")
                    raise RuntimeError("fail inside the unit of work")
            async with transaction(pool, settings) as conn:
                await conn.execute("INSERT INTO t_tx VALUES (3)")
            async with transaction(pool, settings) as conn:
                return await (await conn.execute("SELECT v FROM t_tx ORDER BY v")).fetchall()

    assert asyncio.run(scenario()) == [(3,)]


@pytest.fixture(scope="module")
def small_pool_app(start_app):
    with start_app(
        REFAPP_POOL_MAX="2",
        REFAPP_POOL_MIN="1",
        REFAPP_POOL_TIMEOUT_MS="500",
        REFAPP_STATEMENT_TIMEOUT_MS="3000",
    ) as app:
        yield app


def _get(app, path: str):
    started = time.monotonic()
    response = httpx.get(app.url + path, timeout=30)
    return response.status_code, time.monotonic() - started, response


def test_exhausted_pool_fails_fast_and_recovers(small_pool_app):  # C-POOL-3
    app = small_pool_app
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        hogs = [pool.submit(_get, app, "/db/sleep?s=2") for _ in range(2)]
        deadline = time.monotonic() + 10
        while httpx.get(app.url + "/debug/pool").json()["active"] < 2:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        code, elapsed, response = _get(app, "/db/sleep?s=0")
        assert code == 503 and "pool exhausted" in response.json()["error"]
        assert elapsed < 3.0  # acquire timeout 0.5 s, plus a busy machine's slack; never a hang
        assert [f.result()[0] for f in hogs] == [200, 200]
    assert _get(app, "/db/sleep?s=0")[0] == 200
    warned = app.wait_lines(bool, lambda line: line["msg"] == "db pool usage high")
    assert warned and warned[0]["pool_usage"] > 0.8


def test_statement_timeout_cancels_and_connection_stays_usable(small_pool_app):  # C-POOL-4
    code, elapsed, response = _get(small_pool_app, "/db/sleep?s=20")
    assert code == 504 and "statement timeout" in response.json()["error"] and 2.9 < elapsed < 10
    assert [_get(small_pool_app, "/db/sleep?s=0")[0] for _ in range(4)] == [200] * 4


def test_serializable_mode_keeps_the_invariant(start_app, bank_storm):  # C-TX-3
    with start_app(REFAPP_ISOLATION="serializable") as app:
        httpx.post(app.url + "/accounts/seed", json={"accounts": 4, "balance": 50})
        moves = [(i % 4, (i + 1) % 4, 1 + i % 20) for i in range(40)]
        codes, totals = bank_storm(app, moves)
        final = httpx.get(app.url + "/accounts").json()
    assert set(codes) <= {200, 409} and final["total"] == 200 and set(totals) == {200}
    assert min(final["balances"].values()) >= 0
