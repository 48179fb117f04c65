"""A second process of the stack's app next to its replicas, with other settings (e.g. another cache prefix)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from infratests.errors import ReadinessTimeout, UnsupportedOperation
from infratests.stack.ports import LOOPBACK, free_port
from infratests.stack.topology import Stack

__all__ = ["second_app"]


@contextmanager
def second_app(stack: Stack, timeout_s: float = 30.0, **env: str) -> Iterator[httpx.Client]:
    """Another process of the profile's app command wired like ``app-1`` (same DB, Redis, dependency,
    promises) with ``env`` on top, in the app's folder, as the app's user.

    E.g. a second application with another ``CACHE_PREFIX`` on the same Redis (C-RD-1).
    Yields a client for it; the process (its own session, marked for the janitor) is killed on exit.
    """
    spec = getattr(stack["app-1"], "spec", None)
    if spec is None:
        raise UnsupportedOperation(f"a second app needs app-1's environment; the {stack.backend} backend "
                                   "does not expose it", stack["app-1"])
    port = free_port()
    # A host process: it binds the host's loopback (app-1 may bind 0.0.0.0 inside a container pod)
    # and reaches the stack's services on their ports published there.
    base = {**spec.env, "HOST": LOOPBACK, "PORT": str(port), "INSTANCE": "second-app"}
    log = stack.session.dir / f"second-app-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(list(stack.profile.app_command()), stdout=out, stderr=out, cwd=spec.cwd,
                                stdin=subprocess.DEVNULL, start_new_session=True, user=spec.user,
                                env={**os.environ, **base, **env, **stack.session.child_env()})
    try:
        with httpx.Client(base_url=f"http://{LOOPBACK}:{port}", timeout=10.0) as client:
            _wait_http(client, proc, log, stack.profile.app.ready_path, timeout_s)
            yield client
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def _wait_http(client: httpx.Client, proc: subprocess.Popen[bytes], log: Any, path: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if client.get(path).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise ReadinessTimeout(f"second app did not answer {path} (app.ready_path) within {timeout_s} s "
                           f"(exit {proc.poll()}): {log.read_text(errors='replace')[-1500:]}", "second-app")
