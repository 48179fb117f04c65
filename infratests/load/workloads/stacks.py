"""Private stacks for scenarios whose profile the command line may still override.

A scenario's defaults (short timeouts, one replica) must not hide a mutant's
override of the same key, so :func:`scenario_overrides` drops the keys the
command line sets (``--infratests-set`` wins). :func:`private_stack` starts such
a stack in a directory of its own under the run's session, removed afterwards.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpx

from infratests.errors import ReadinessTimeout, UnsupportedOperation
from infratests.janitor import Session
from infratests.stack.ports import LOOPBACK, free_port
from infratests.stack.topology import Stack

__all__ = ["private_stack", "scenario_overrides", "second_app"]


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


@contextmanager
def second_app(stack: Stack, timeout_s: float = 30.0, **env: str) -> Iterator[httpx.Client]:
    """Another app process wired like ``app-1`` (same DB, Redis, dependency) with ``env`` on top.

    E.g. a second application with another ``CACHE_PREFIX`` on the same Redis (C-RD-1).
    Yields a client for it; the process (its own session, marked for the janitor) is killed on exit.
    """
    spec = getattr(stack["app-1"], "spec", None)
    if spec is None:
        raise UnsupportedOperation(f"a second app needs app-1's environment; the {stack.backend} backend "
                                   "does not expose it", stack["app-1"])
    port = free_port()
    base = {**spec.env, "PORT": str(port), "INSTANCE": "second-app"}
    log = stack.session.dir / f"second-app-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "infratests.refapp"], stdout=out, stderr=out,
                                stdin=subprocess.DEVNULL, start_new_session=True,
                                env={**os.environ, **base, **env, **stack.session.child_env()})
    try:
        with httpx.Client(base_url=f"http://{LOOPBACK}:{port}", timeout=10.0) as client:
            _wait_http(client, proc, log, timeout_s)
            yield client
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def _wait_http(client: httpx.Client, proc: subprocess.Popen[bytes], log: Any, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if client.get("/health").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise ReadinessTimeout(f"second app did not answer /health within {timeout_s} s "
                           f"(exit {proc.poll()}): {log.read_text(errors='replace')[-1500:]}", "second-app")
