"""Waiting for a condition, the one way scenarios and the library do it.

:func:`wait_until` is a precondition: it returns the condition's first truthy
value, or fails naming what it waited for (an ``AssertionError`` that is not a
claim violation: a scenario that only times out has not caught anything).
:func:`poll` is an observation: it returns the last value seen, whether or not
it settled in time, for the check that follows to judge.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["WaitTimeout", "poll", "wait_until"]

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """A condition a scenario waited for did not come true in time."""


def wait_until(condition: Callable[[], T], what: str, timeout: float = 15.0, interval: float = 0.02) -> T:
    """Call ``condition`` every ``interval`` s until it returns something truthy, and return that; after
    ``timeout`` s raise :class:`WaitTimeout`: ``timed out after 15 s waiting until <what>``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"timed out after {timeout:g} s waiting until {what}")
        time.sleep(interval)


def poll(read: Callable[[], T], done: Callable[[T], bool], timeout: float, interval: float = 0.05) -> T:
    """Call ``read`` until ``done(value)`` or ``timeout`` s pass; the last value read either way."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value) or time.monotonic() >= deadline:
            return value
        time.sleep(interval)
