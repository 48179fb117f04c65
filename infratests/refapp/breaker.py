"""An async circuit breaker (C-CB-1..4) and bounded, jittered exponential backoff (C-CB-5).

pybreaker's async path needs tornado, so this is a small state machine with an
injectable clock: CLOSED counts consecutive failures (errors and timeouts);
at ``threshold`` it opens; OPEN rejects without calling; after ``reset_timeout``
one trial call runs (HALF_OPEN) while every other call is still rejected;
the trial's success closes, its failure re-opens.
"""

from __future__ import annotations

import enum
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from infratests.errors import InfratestsError

__all__ = ["BreakerState", "CircuitBreaker", "CircuitOpen", "backoff_delay"]

T = TypeVar("T")


class BreakerState(enum.IntEnum):
    """Values of the ``circuit_breaker_state`` metric."""

    CLOSED = 0
    OPEN = 1
    HALF_OPEN = 2


class CircuitOpen(InfratestsError):
    """The breaker rejected a call without running it; ``subject`` is the breaker's name."""


class CircuitBreaker:
    """Guard async calls to one dependency; ``threshold`` 0 means the breaker never opens (mutant)."""

    def __init__(
        self,
        name: str,
        threshold: int,
        reset_timeout: float,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[BreakerState], None] | None = None,
    ) -> None:
        self.name = name
        self.threshold = threshold
        self.reset_timeout = reset_timeout
        self._clock = clock
        self._on_change = on_change
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._trial_running = False

    @property
    def state(self) -> BreakerState:
        """The current state; OPEN reads as HALF_OPEN once the reset timeout has passed."""
        if self._state is BreakerState.OPEN and self._clock() - self._opened_at >= self.reset_timeout:
            return BreakerState.HALF_OPEN
        return self._state

    async def call(self, func: Callable[[], Awaitable[T]]) -> T:
        """Run ``func`` unless the breaker is open; any exception counts as a failure and is re-raised."""
        trial = self._admit()
        try:
            result = await func()
        except BaseException:
            self._record_failure(trial)
            raise
        self._record_success(trial)
        return result

    def _admit(self) -> bool:
        state = self.state
        if state is BreakerState.CLOSED:
            return False
        if state is BreakerState.HALF_OPEN and not self._trial_running:
            self._trial_running = True
            self._set(BreakerState.HALF_OPEN)
            return True
        raise CircuitOpen(f"circuit {self.name!r} is {state.name}", subject=self.name)

    def _record_failure(self, trial: bool) -> None:
        if trial:
            self._trial_running = False
            self._open()
            return
        self._failures += 1
        if self.threshold and self._failures >= self.threshold and self._state is BreakerState.CLOSED:
            self._open()

    def _record_success(self, trial: bool) -> None:
        if trial:
            self._trial_running = False
            self._set(BreakerState.CLOSED)
        if self._state is BreakerState.CLOSED:
            self._failures = 0

    def _open(self) -> None:
        self._opened_at = self._clock()
        self._set(BreakerState.OPEN)

    def _set(self, state: BreakerState) -> None:
        if state is BreakerState.CLOSED:
            self._failures = 0
        self._state = state
        if self._on_change is not None:
            self._on_change(state)


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Delay before retry number ``attempt`` (0-based): "equal jitter" in [d/2, d], d = min(cap, base*2**attempt).

    The lower bound grows with the attempt (no retry storm after an outage) and the
    random half spreads clients apart (C-CB-5).
    """
    ceiling = min(cap, base * (2**attempt))
    return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)
