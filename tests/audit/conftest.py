"""Fixtures for the audit's tests: the stack's configuration files, rendered and never started."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from infratests.janitor import open_session
from infratests.profile_file import load_profile
from infratests.stack.topology import Stack

Render = Callable[[Mapping[str, str]], Path]
SERVER_FILES = {"nginx": "nginx.conf", "pgbouncer": "pgbouncer.ini", "postgres": "postgresql.conf",
                "redis-cache": "redis.conf"}


@pytest.fixture
def render(tmp_path: Path) -> Iterator[Render]:
    """``render(overrides)``: a folder with the nginx, PgBouncer, Postgres and cache-node files the
    stack would start with under the default profile plus ``overrides``."""
    session = open_session()

    def rendered(overrides: Mapping[str, str]) -> Path:
        stack = Stack(load_profile(None, dict(overrides)), session)
        folder = tmp_path / f"rendered-{len(list(tmp_path.iterdir()))}"
        folder.mkdir()
        for service, name in SERVER_FILES.items():
            (folder / name).write_text(stack[service].spec.files[name])  # type: ignore[attr-defined]
        return folder

    yield rendered
    session.close()
