"""Pieces of the refapp that need no servers: settings, breaker, backoff, health rule, Redlock arithmetic."""

from __future__ import annotations

import asyncio
import random
import uuid

import pytest

from infratests.errors import ConfigError, InfratestsError
from infratests.refapp.breaker import BreakerState, CircuitBreaker, CircuitOpen, backoff_delay
from infratests.refapp.health import RateLimiter, client_key, is_internal
from infratests.refapp.middleware import incoming_request_id
from infratests.refapp.redlock import quorum, validity_ms
from infratests.refapp.settings import Settings, SettingsError, load_settings


def test_defaults_are_the_claimed_numbers():
    s = load_settings({})
    assert (s.pool_max, s.pool_min, s.pool_timeout_ms, s.pool_max_idle_ms, s.pool_max_lifetime_s) == (
        20,
        2,
        5000,
        10000,
        3600,
    )
    assert (s.statement_timeout_ms, s.breaker_threshold, s.breaker_reset_ms, s.breaker_call_timeout_ms) == (
        30000,
        3,
        30000,
        1000,
    )
    assert (s.drain, s.drain_delay_ms, s.kill_timeout_ms, s.lock_ttl_ms, s.fencing) == (
        True,
        5000,
        30000,
        10000,
        True,
    )
    assert (s.cache_ttl_s, s.health_rate_per_min, s.request_id, s.transfer_tx) == (300, 30, True, True)
    assert not (s.hang_on_drain or s.ready_early or s.leak_health_details or s.cache_prefix_off)


def test_settings_parse_env_and_are_frozen():
    s = load_settings(
        {
            "PORT": "8123",
            "REDIS_LOCK_URLS": "redis://a, redis://b,,redis://c",
            "REFAPP_DRAIN": "off",
            "REFAPP_BREAKER_THRESHOLD": "never",
            "REFAPP_ISOLATION": "SERIALIZABLE",
            "REFAPP_CACHE_PREFIX_OFF": "1",
            "CACHE_PREFIX": "x:",
        }
    )
    assert s.port == 8123 and s.redis_lock_urls == ("redis://a", "redis://b", "redis://c")
    assert s.drain is False and s.breaker_threshold == 0 and s.isolation == "serializable"
    assert s.effective_cache_prefix == ""
    with pytest.raises(AttributeError):
        s.port = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    "name,value",
    [
        ("PORT", "70000"),
        ("PORT", "abc"),
        ("REFAPP_POOL_MAX", "0"),
        ("REFAPP_DRAIN", "maybe"),
        ("REFAPP_ISOLATION", "snapshot"),
        ("REFAPP_POOL_WARN_RATIO", "1.5"),
        ("REFAPP_CACHE_TTL", "-1"),
        ("REFAPP_POOL_MIN", "50"),
        ("INTERNAL_PEERS", "172.18.0.1,not-an-address"),
    ],
)
def test_bad_values_name_the_variable(name, value):
    with pytest.raises(SettingsError) as info:
        load_settings({name: value})
    assert info.value.subject == name and name in str(info.value)
    assert isinstance(info.value, ConfigError) and isinstance(info.value, InfratestsError)


def test_secrets_stay_out_of_repr():
    s = load_settings({"HEALTH_SECRET": "hunter2", "SENTRY_DSN": "http://key@127.0.0.1:1/1"})
    assert "hunter2" not in repr(s) and "key@" not in repr(s)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def _ok() -> str:
    return "ok"


async def _fail() -> str:
    raise TimeoutError("dependency timed out")


def _run(breaker: CircuitBreaker, func) -> str:
    try:
        return asyncio.run(breaker.call(func))
    except CircuitOpen:
        return "rejected"
    except TimeoutError:
        return "failed"


def test_breaker_opens_at_threshold_and_rejects_without_calling():  # C-CB-1, C-CB-2
    clock, calls = FakeClock(), []

    async def counted() -> str:
        calls.append(1)
        raise TimeoutError

    breaker = CircuitBreaker("dep", threshold=3, reset_timeout=30, clock=clock)
    assert [_run(breaker, counted) for _ in range(3)] == ["failed"] * 3
    assert breaker.state is BreakerState.OPEN
    assert [_run(breaker, counted) for _ in range(5)] == ["rejected"] * 5
    assert len(calls) == 3


def test_breaker_success_resets_the_failure_count():
    breaker = CircuitBreaker("dep", threshold=3, reset_timeout=30, clock=FakeClock())
    for func in (_fail, _fail, _ok, _fail, _fail):
        _run(breaker, func)
    assert breaker.state is BreakerState.CLOSED


def test_breaker_half_open_single_trial_then_close_or_reopen():  # C-CB-3
    clock = FakeClock()
    breaker = CircuitBreaker("dep", threshold=1, reset_timeout=30, clock=clock)
    _run(breaker, _fail)
    clock.now = 29.9
    assert breaker.state is BreakerState.OPEN and _run(breaker, _ok) == "rejected"
    clock.now = 30.0
    assert breaker.state is BreakerState.HALF_OPEN
    assert _run(breaker, _fail) == "failed" and breaker.state is BreakerState.OPEN
    clock.now = 60.0
    assert _run(breaker, _ok) == "ok" and breaker.state is BreakerState.CLOSED


def test_breaker_half_open_admits_only_one_concurrent_trial():
    clock = FakeClock()
    breaker = CircuitBreaker("dep", threshold=1, reset_timeout=1, clock=clock)
    _run(breaker, _fail)
    clock.now = 2

    async def both() -> list:
        gate = asyncio.Event()

        async def slow_ok() -> str:
            await gate.wait()
            return "ok"

        first = asyncio.ensure_future(breaker.call(slow_ok))
        await asyncio.sleep(0)
        second = await asyncio.gather(breaker.call(_ok), return_exceptions=True)
        gate.set()
        return [await first, type(second[0]).__name__]

    assert asyncio.run(both()) == ["ok", "CircuitOpen"]
    assert breaker.state is BreakerState.CLOSED


def test_breaker_threshold_zero_never_opens():
    breaker = CircuitBreaker("dep", threshold=0, reset_timeout=30, clock=FakeClock())
    assert [_run(breaker, _fail) for _ in range(10)] == ["failed"] * 10
    assert breaker.state is BreakerState.CLOSED


def test_backoff_grows_within_bounds_with_jitter():  # C-CB-5
    rng = random.Random(7)
    for attempt in range(8):
        ceiling = min(1.0, 0.05 * 2**attempt)
        delays = [backoff_delay(attempt, 0.05, 1.0, rng) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 150  # jittered, not a fixed delay
    assert backoff_delay(30, 0.05, 1.0, rng) <= 1.0


class Headers(dict):
    def get(self, key, default=None):  # case-insensitive like Starlette's Headers
        return super().get(key.lower(), default)


def test_health_access_rule():  # C-HL-3
    assert is_internal("127.0.0.1", Headers(), "s")
    assert is_internal("::1", Headers(), "")
    assert not is_internal("10.0.0.5", Headers(), "s")
    assert not is_internal("127.0.0.1", Headers({"x-real-ip": "127.0.0.1"}), "s")
    assert not is_internal("127.0.0.1", Headers({"x-forwarded-for": "127.0.0.1"}), "s")
    assert not is_internal("127.0.0.1", Headers({"x-external": "1"}), "s")
    assert is_internal("10.0.0.5", Headers({"x-real-ip": "8.8.8.8", "x-health-secret": "s"}), "s")
    assert not is_internal("10.0.0.5", Headers({"x-health-secret": "wrong"}), "s")
    assert not is_internal("10.0.0.5", Headers({"x-health-secret": ""}), "")
    assert is_internal("172.18.0.1", Headers(), "", ("172.18.0.1/32",))
    assert not is_internal("172.18.0.2", Headers(), "", ("172.18.0.1/32",))
    assert not is_internal("172.18.0.1", Headers({"x-real-ip": "172.18.0.1"}), "", ("172.18.0.1/32",))


def test_rate_limiter_per_client_and_refill():  # C-HL-4
    clock = FakeClock()
    limiter = RateLimiter(30, clock=clock)
    assert all(limiter.allow("a") for _ in range(30)) and not limiter.allow("a")
    assert limiter.allow("b")
    clock.now = 2.0  # 30/min refills one token per 2 s
    assert limiter.allow("a") and not limiter.allow("a")
    assert all(RateLimiter(0).allow("a") for _ in range(100))
    assert client_key("127.0.0.1", Headers({"x-forwarded-for": "1.2.3.4, 5.6.7.8"})) == "1.2.3.4"
    assert client_key("127.0.0.1", Headers({"x-real-ip": "9.9.9.9"})) == "9.9.9.9"


def test_request_id_generated_or_propagated():  # C-OBS-1
    generated = incoming_request_id([])
    assert uuid.UUID(generated).version == 4
    assert incoming_request_id([(b"X-Request-ID", b"abc-123")]) == "abc-123"
    assert uuid.UUID(incoming_request_id([(b"x-request-id", b"bad\x01id")])).version == 4


def test_redlock_quorum_and_validity():  # C-LOCK-3
    assert [quorum(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 2, 3, 3]
    assert validity_ms(10_000, 50, 0.01) == pytest.approx(10_000 - 50 - 100 - 2)
    assert validity_ms(100, 99, 0.01) < 0


def test_settings_dataclass_fields_all_have_env_names():
    import dataclasses

    names = [f.metadata["env"] for f in dataclasses.fields(Settings)]
    assert len(names) == len(set(names))
