"""Fixtures for the stack's own tests: a janitor session of their own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from infratests.janitor import open_session
from infratests.session import Session


@pytest.fixture
def session() -> Iterator[Session]:
    opened = open_session()
    yield opened
    opened.close()
