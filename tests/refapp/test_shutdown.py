"""Graceful shutdown of the real process on real signals (C-GS-1..3) and its mutant knobs."""

from __future__ import annotations

import concurrent.futures
import signal
import time

import httpx
import pytest


def _in_flight(app) -> float:
    for line in httpx.get(app.url + "/metrics").text.splitlines():
        if line.startswith("http_requests_in_flight "):
            return float(line.split()[1])
    return 0.0


def _wait_in_flight(app, count: int, timeout: float = 10) -> None:
    """Wait until ``count`` requests besides the /metrics probe itself are being handled."""
    deadline = time.monotonic() + timeout
    while _in_flight(app) < count + 1:
        assert time.monotonic() < deadline, "slow requests never became in-flight"
        time.sleep(0.02)


def _slow(app, ms: int):
    try:
        return httpx.get(app.url + f"/slow?ms={ms}", timeout=30).status_code
    except httpx.HTTPError as exc:
        return type(exc).__name__


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_drain_finishes_in_flight_and_exits_zero(start_app, sig):  # C-GS-1, C-GS-2
    with start_app(REFAPP_DRAIN_DELAY_MS="1000") as app, concurrent.futures.ThreadPoolExecutor(6) as pool:
        slow = [pool.submit(_slow, app, 1500) for _ in range(5)]
        _wait_in_flight(app, 5)
        app.proc.send_signal(sig)
        ready = httpx.get(app.url + "/health/ready", timeout=5)
        fresh = httpx.get(app.url + "/json?bytes=10", timeout=5)
        assert ready.status_code == 503 and ready.json()["status"] == "draining"
        assert fresh.status_code == 503 and fresh.headers["connection"] == "close"
        assert httpx.get(app.url + "/health/live", timeout=5).status_code == 200
        assert [f.result() for f in slow] == [200] * 5
        assert app.proc.wait(20) == 0
        messages = [line["msg"] for line in app.lines()]
        assert "drain started" in messages and "clients closed" in messages


def test_drain_off_drops_in_flight(start_app):  # mutant REFAPP_DRAIN=off breaks C-GS-1
    with start_app(REFAPP_DRAIN="off") as app, concurrent.futures.ThreadPoolExecutor(3) as pool:
        slow = [pool.submit(_slow, app, 3000) for _ in range(3)]
        _wait_in_flight(app, 3)
        app.proc.send_signal(signal.SIGTERM)
        assert all(f.result() != 200 for f in slow)
        app.proc.wait(10)


def test_hung_drain_is_forced_after_kill_timeout(start_app):  # C-GS-3 via REFAPP_HANG_ON_DRAIN=on
    with start_app(
        REFAPP_HANG_ON_DRAIN="on", REFAPP_DRAIN_DELAY_MS="100", REFAPP_KILL_TIMEOUT_MS="1500"
    ) as app:
        started = time.monotonic()
        app.proc.send_signal(signal.SIGTERM)
        code = app.proc.wait(20)
        elapsed = time.monotonic() - started
        assert code == 3 and 1.4 <= elapsed < 10, (code, elapsed)
        assert "kill timeout exceeded; forcing exit" in [line["msg"] for line in app.lines()]
