"""The circuit breaker around the real dependency process (C-CB-1..5)."""

from __future__ import annotations

import time

import httpx
import pytest


@pytest.fixture
def dep(local_dependency):
    """The shared dependency, reset to healthy before and after each test."""
    httpx.post(local_dependency + "/control", json={"status": 200, "delay_ms": 0})
    yield local_dependency
    httpx.post(local_dependency + "/control", json={"status": 200, "delay_ms": 0})


def _served(dep: str) -> int:
    return httpx.get(dep + "/stats").json()["quote"]


def _state(app) -> float:
    for line in httpx.get(app.url + "/metrics").text.splitlines():
        if line.startswith('circuit_breaker_state{service="dependency"}'):
            return float(line.split()[1])
    raise AssertionError("circuit_breaker_state metric missing")


def _quote(app):
    started = time.monotonic()
    response = httpx.get(app.url + "/quote", timeout=10)
    return response.status_code, time.monotonic() - started


def test_breaker_opens_fails_fast_and_recovers(start_app, dep):  # C-CB-1..4
    with start_app(
        REFAPP_BREAKER_RESET_MS="1500", REFAPP_RETRY_ATTEMPTS="1", REFAPP_BREAKER_CALL_TIMEOUT_MS="300"
    ) as app:
        assert _quote(app)[0] == 200 and _state(app) == 0
        httpx.post(dep + "/control", json={"status": 500})
        assert [_quote(app)[0] for _ in range(3)] == [502] * 3
        assert _state(app) == 1
        before = _served(dep)
        rejected = [_quote(app) for _ in range(5)]
        assert all(code == 503 and elapsed < 0.5 for code, elapsed in rejected), rejected
        assert _served(dep) == before  # no call reached the dependency while open
        assert httpx.get(app.url + "/health").status_code == 200  # other routes stay healthy
        httpx.post(dep + "/control", json={"status": 200})
        deadline = time.monotonic() + 10
        while _state(app) != 2:
            assert time.monotonic() < deadline, "breaker never became half-open"
            time.sleep(0.05)
        assert _quote(app)[0] == 200 and _state(app) == 0
        httpx.post(dep + "/control", json={"delay_ms": 1000})  # timeouts count as failures
        assert [_quote(app)[0] for _ in range(3)] == [502] * 3 and _state(app) == 1


def test_breaker_never_mutant_and_bounded_retries(start_app, dep):  # C-CB-1 mutant, C-CB-5
    with start_app(
        REFAPP_BREAKER_THRESHOLD="never", REFAPP_RETRY_ATTEMPTS="3", REFAPP_RETRY_BASE_MS="20"
    ) as app:
        httpx.post(dep + "/control", json={"status": 503})
        before = _served(dep)
        assert [_quote(app)[0] for _ in range(4)] == [502] * 4
        assert _served(dep) - before == 12  # 3 attempts per request, bounded; never short-circuited
        assert _state(app) == 0
