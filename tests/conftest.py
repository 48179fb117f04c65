"""Shared fixtures for the library's own tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from infratests.janitor import reap_leftovers
from infratests.session import owned_directory, runtime_root


@pytest.fixture
def private_root(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A runtime root of this test's own (inherited by subprocesses): other runs never show up in it.

    It sits inside the ordinary runtime root and is owned by this process, so if this pytest is
    killed mid-test, the next run's janitor reaps whatever the test left in it.
    """
    root = owned_directory(runtime_root() / f"t-{uuid.uuid4().hex[:6]}")
    monkeypatch.setenv("INFRATESTS_RUNDIR", str(root))
    yield root
    reap_leftovers(include_live=True)
    (root / "owner").unlink()
    root.rmdir()
