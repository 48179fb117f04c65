"""Shared fixtures for the library's own tests."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from infratests.janitor import reap_leftovers


@pytest.fixture
def private_root(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A runtime root of this test's own (inherited by subprocesses): other runs never show up in it."""
    root = Path("/dev/shm" if os.access("/dev/shm", os.W_OK) else "/tmp") / f"itr-{uuid.uuid4().hex[:6]}"
    monkeypatch.setenv("INFRATESTS_RUNDIR", str(root))
    yield root
    reap_leftovers(include_live=True)
    if root.exists():
        root.rmdir()
