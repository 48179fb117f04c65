"""Process faults on the Service API: crash, pause, terminate, restart, stay down.

Each fault is a context manager that heals on exit, also when the body
raises: a crashed service is started again, a paused one resumed. A backend
that cannot do an operation raises UnsupportedOperation; ``skip_unsupported``
turns that into a pytest skip with the reason.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from infratests.stack.service import Service

__all__ = ["crashed", "paused", "terminated", "restarted", "heal", "skip_unsupported"]


@contextmanager
def crashed(service: Service, restart: bool = True) -> Iterator[Service]:
    """SIGKILL (a crash: no shutdown code runs); started again on exit when ``restart``."""
    service.kill()
    try:
        yield service
    finally:
        if restart:
            service.start()


@contextmanager
def paused(service: Service) -> Iterator[Service]:
    """SIGSTOP: the process holds its sockets but answers nothing (a GC pause, a frozen VM)."""
    service.pause()
    try:
        yield service
    finally:
        service.resume()


@contextmanager
def terminated(service: Service, timeout: float = 30.0) -> Iterator[int | None]:
    """SIGTERM and wait for the exit code (None if still running after ``timeout``); restart on exit."""
    code = service.terminate(timeout)
    try:
        yield code
    finally:
        service.stop(graceful=False)
        service.start()


def restarted(service: Service, down_for: float = 0.0) -> float:
    """Stop, stay down ``down_for`` s, start; return the seconds until it was ready again."""
    started = time.monotonic()
    service.restart(down_for)
    return time.monotonic() - started


def heal(service: Service) -> None:
    """Whatever was done to it, make it run and answer again (used by fault plans' teardown)."""
    service.resume()
    if not service.is_running():
        service.start()


@contextmanager
def skip_unsupported() -> Iterator[None]:
    """Inside a scenario: an operation the backend cannot do becomes a skip with the reason."""
    import pytest

    from infratests.errors import UnsupportedOperation

    try:
        yield
    except UnsupportedOperation as error:
        pytest.skip(f"backend cannot do this: {error}")
