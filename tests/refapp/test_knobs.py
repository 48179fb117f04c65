"""Each mutant knob breaks the one behaviour it names (docs/app-contract.md, "Knobs")."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import pytest
import redis

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def mutant(start_app):
    """One app with the independent data-path mutants switched on together."""
    with start_app(
        REFAPP_CACHE_TTL="0",
        REFAPP_CACHE_PREFIX_OFF="on",
        REFAPP_LEAK_HEALTH_DETAILS="on",
        REFAPP_REQUEST_ID="off",
        REFAPP_STATEMENT_TIMEOUT_MS="0",
        REFAPP_TRANSFER_TX="off",
    ) as app:
        yield app


def test_cache_knobs_drop_ttl_and_prefix(mutant, local_redis):  # C-RD-1, C-RD-3 mutants
    httpx.put(mutant.url + "/cache/naked", content=b"v")
    raw = redis.Redis(port=local_redis[0])
    assert raw.get("naked") == b"v" and raw.ttl("naked") == -1


def test_leaked_health_details(mutant):  # C-HL-3 mutant
    body = httpx.get(mutant.url + "/health/detailed", headers={"X-Real-IP": "203.0.113.7"}).json()
    assert "uptime_s" in body and "memory_rss_bytes" in body


def test_request_id_off(mutant):  # C-OBS-1 mutant
    assert "x-request-id" not in httpx.get(mutant.url + "/health/live").headers


def test_statement_timeout_off(mutant):  # C-POOL-4 mutant: 1.2 s runs past what a 1 s timeout allows
    assert httpx.get(mutant.url + "/db/sleep?s=1.2", timeout=30).status_code == 200


def test_transfer_without_transaction_breaks_the_snapshot_sum(mutant, bank_storm):  # C-TX-3 mutant
    httpx.post(mutant.url + "/accounts/seed", json={"accounts": 3, "balance": 1000})
    moves = [(i % 3, (i + 1) % 3, 1) for i in range(80)]
    codes, totals = bank_storm(mutant, moves)
    assert set(codes) == {200}
    assert any(total < 3000 for total in totals), "no snapshot caught money in flight"


def _spawn(app_env: dict, port: int, **overrides: str) -> subprocess.Popen:
    env = {**os.environ, **app_env, "PORT": str(port), "REFAPP_POOL_OPEN_TIMEOUT_MS": "1500", **overrides}
    return subprocess.Popen(
        [sys.executable, "-m", "infratests.refapp"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def test_ready_only_when_it_can_serve(app_env, unused_port):  # C-GS-5, and the REFAPP_READY_EARLY mutant
    dead_db = f"postgresql://postgres@127.0.0.1:{unused_port()}/postgres"
    correct_port, early_port = unused_port(), unused_port()
    correct = _spawn(app_env, correct_port, DATABASE_URL=dead_db)
    early = _spawn(app_env, early_port, DATABASE_URL=dead_db, REFAPP_READY_EARLY="on")
    try:
        assert correct.wait(30) != 0  # never bound the port, gave up after the open timeout
        deadline = time.monotonic() + 30
        while True:
            try:
                assert httpx.get(f"http://127.0.0.1:{early_port}/health").status_code == 200
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and early.poll() is None
                time.sleep(0.05)
        assert httpx.get(f"http://127.0.0.1:{early_port}/health/ready", timeout=10).status_code == 503
    finally:
        for proc in (correct, early):
            if proc.poll() is None:
                os.killpg(proc.pid, 9)
                proc.wait(5)


def test_bad_setting_exits_2_naming_the_variable():
    env = {**os.environ, "REFAPP_ISOLATION": "snapshot", "HEALTH_SECRET": "top-secret"}
    done = subprocess.run(
        [sys.executable, "-m", "infratests.refapp"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 2 and "REFAPP_ISOLATION" in done.stderr
    assert "top-secret" not in done.stderr + done.stdout
