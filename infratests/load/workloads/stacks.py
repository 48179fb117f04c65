"""Private stacks for scenarios whose profile the command line may still override.

A scenario's defaults (short timeouts, one replica) must not hide a mutant's
override of the same key, so :func:`scenario_overrides` drops the keys the
command line sets (``--infratests-set`` wins). :func:`private_stack` starts such
a stack in a directory of its own under the run's session, removed afterwards.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from infratests.janitor import Session
from infratests.stack.topology import Stack

__all__ = ["private_stack", "scenario_overrides"]


def scenario_overrides(config: Any, defaults: Mapping[str, str]) -> dict[str, str]:
    """``defaults`` minus every key given with ``--infratests-set`` (the command line wins)."""
    given = {pair.partition("=")[0].strip() for pair in config.getoption("infratests_set") or ()}
    return {key: value for key, value in defaults.items() if key not in given}


@contextmanager
def private_stack(request: Any, defaults: Mapping[str, str]) -> Iterator[Stack]:
    """A stack of this test's own: the profile with ``defaults`` under the command line's overrides."""
    source = request.getfixturevalue("infratests_profile_source")
    session = request.getfixturevalue("infratests_session")
    profile = source.load(scenario_overrides(request.config, defaults))
    private = Session(session.id, session.dir / f"private-{uuid.uuid4().hex[:8]}")
    private.dir.mkdir(parents=True)
    try:
        with Stack(profile, private, request.config.getoption("infratests_backend")) as running:
            yield running
    finally:
        shutil.rmtree(private.dir, ignore_errors=True)
