"""Process faults' aftermath on the Service API (the faults themselves are the nemesis').

``heal`` makes a service run and answer again whatever was done to it. A
backend that cannot do an operation raises UnsupportedOperation;
``skip_unsupported`` turns that into a pytest skip with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from infratests.stack.service import Service

__all__ = ["heal", "skip_unsupported"]


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
