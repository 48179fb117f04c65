"""The circuit breaker around the external dependency (C-CB-1..5).

A private stack with one replica (its breaker state is the only one) and the
promises shortened where the app receives them (a 1 s reset timeout, a 300 ms
call timeout, no retries): the dependency fails through its fault proxy while
a caller hits ``/quote``; the breaker checker simulates the state machine over
the calls, judged against the promised threshold and reset timeout.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import pytest

from infratests.checks import breaker
from infratests.checks.result import assert_holds
from infratests.faults.nemesis import Nemesis, RecordedFault
from infratests.history import History, OpType, Recorder
from infratests.load.workloads.calls import QuoteCaller, dependency_served
from infratests.load.workloads.metrics import scrape, value
from infratests.plugin import StackFactory
from infratests.stack.topology import Stack
from infratests.wait import poll

_SHORT = {"breaker_reset_ms": 1000, "breaker_call_timeout_ms": 300, "retry_attempts": 1}
_FAULTS: dict[str, Callable[[Nemesis], RecordedFault]] = {
    "down": lambda nemesis: nemesis.down("dependency"),
    "reset_peer": lambda nemesis: nemesis.reset_peer("dependency", after_ms=0),
    "latency_above_call_timeout": lambda nemesis: nemesis.latency("dependency", ms=900),
}
_STATE = {"service": "dependency"}


@contextmanager
def _breaker_stack(stack_factory: StackFactory) -> Iterator[tuple[Stack, httpx.Client]]:
    with stack_factory({"app.replicas": "1"}, promises=_SHORT) as s, \
            httpx.Client(base_url=s["app-1"].endpoint.url, timeout=10.0) as app:
        yield s, app


def _wait_closed(recorder: Recorder, healed: float, timeout_s: float) -> bool:
    """Wait until the caller got a 200 that started after the heal (the breaker closed again)."""
    def closed() -> bool:
        return any(comp is not None and comp.type is OpType.OK and inv.time > healed
                   for inv, comp in recorder.history().client_ops().pairs())
    return poll(closed, bool, timeout_s)


@pytest.mark.chaos
@pytest.mark.destructive
@pytest.mark.needs("breaker")
@pytest.mark.parametrize("fault", [pytest.param("down", marks=pytest.mark.gate), "reset_peer",
                                   "latency_above_call_timeout"])
def test_breaker_opens_fails_fast_and_recovers(stack_factory: StackFactory, recorder: Recorder, fault: str) -> None:
    """C-CB-1..4: opens after the promised threshold, fails fast while open (app healthy, state
    metric 1), one trial after the reset timeout, re-opens on failure, closes on success (metric 0)."""
    with _breaker_stack(stack_factory) as (s, app):
        reset, metrics = s.profile.promises.breaker_reset_ms / 1000, "metrics" in s.profile.capabilities()
        served_before = dependency_served(s["dependency"].endpoint.url)
        with QuoteCaller(str(app.base_url), recorder, pause_s=0.02):
            time.sleep(0.5)  # the baseline: calls succeed with the dependency up
            with _FAULTS[fault](Nemesis(s, recorder)):
                open_states, healthy = _observe_while_failing(s, app, max(2.0, 2.5 * reset), metrics)
            healed = recorder.history().fault_window(target="dependency")[1]
            closed = _wait_closed(recorder, healed, timeout_s=reset + 5.0)
        closed_state = value(scrape(app), "circuit_breaker_state", _STATE, default=-1) if metrics else 0
        served = dependency_served(s["dependency"].endpoint.url) - served_before
    history = recorder.history()
    result = breaker.check(history, threshold=s.profile.promises.breaker_threshold, reset_timeout=reset,
                           tolerance=0.5, claim="C-CB-1")
    assert_holds(result)
    _assert_open_was_cheap_and_visible(history, open_states if metrics else {1.0}, healthy, served)
    assert closed and closed_state == 0, (
        f"C-CB-3 violated: after healing, closed={closed} and circuit_breaker_state={closed_state} (want 0)")


def _observe_while_failing(s: Stack, app: httpx.Client, seconds: float,
                           metrics: bool) -> tuple[set[float], list[int]]:
    """Scrape the state metric (when the app has metrics) and probe the app's ready path while the
    dependency fails."""
    states: set[float] = set()
    health: list[int] = []
    stop_at = time.monotonic() + seconds
    while time.monotonic() < stop_at:
        if metrics:
            states.add(value(scrape(app), "circuit_breaker_state", _STATE, default=-1))
        health.append(app.get(s.profile.app.ready_path).status_code)
        time.sleep(0.1)
    return states, health


def _assert_open_was_cheap_and_visible(history: History, states: set[float], healthy: list[int],
                                       served: int) -> None:
    pairs = [(inv, comp) for inv, comp in history.client_ops().pairs() if comp is not None]
    rejected = [comp for inv, comp in pairs if not comp.extra.get("reached_dependency", True)]
    reached = len(pairs) - len(rejected)
    slowest = max((comp.extra["elapsed_s"] for comp in rejected), default=None)
    assert rejected and slowest is not None and slowest < 0.25, (
        f"C-CB-2 violated: while open, calls must fail fast: {len(rejected)} rejected, slowest {slowest} s")
    assert served <= reached, (
        f"C-CB-2 violated: the dependency served {served} quotes but only {reached} calls were let through: "
        "calls reached it while the circuit was open")
    assert set(healthy) == {200}, f"C-CB-2 violated: the rest of the app was not healthy while open: {healthy}"
    assert 1.0 in states, f"C-CB-4 violated: circuit_breaker_state never read 1 (open) during the outage: {states}"


@pytest.mark.chaos
@pytest.mark.destructive
@pytest.mark.needs("breaker")
def test_retries_do_not_amplify_an_outage(stack_factory: StackFactory, recorder: Recorder) -> None:
    """C-CB-5: during an outage the dependency gets fewer requests than clients sent (bounded retries + breaker)."""
    with stack_factory({"app.replicas": "1"}, promises={"breaker_reset_ms": 1000}) as s:
        dependency = s["dependency"].endpoint.url
        before = dependency_served(dependency)
        with Nemesis(s, recorder).dependency_failing(500), \
                QuoteCaller(s["app-1"].endpoint.url, recorder, workers=4, pause_s=0.05):
            time.sleep(3.0)
        served = dependency_served(dependency) - before
    sent = sum(1 for op in recorder.history().client_ops().completions())
    assert sent >= 20 and served <= sent, (
        f"C-CB-5 violated: during the outage clients sent {sent} requests and the dependency received {served}: "
        "retries amplified the outage")
