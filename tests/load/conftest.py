"""Fixtures for the load tests: a small real HTTP target (Starlette on uvicorn) in a subprocess.

The target gets an already-bound listening socket (127.0.0.1, ephemeral
port), so there is no port race; readiness is a real HTTP GET with a deadline.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

HERE = Path(__file__).resolve().parent
TARGET_USERS = HERE / "locustfiles" / "target_users.py"
FOREVER_SHAPE = HERE / "locustfiles" / "forever_shape.py"


def _wait_ready(url: str, proc: subprocess.Popen[bytes], deadline_s: float = 30.0) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"target exited with {proc.returncode} before answering")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"target {url} not ready within {deadline_s} s")


@pytest.fixture(scope="session")
def target() -> Iterator[str]:
    """Base URL of the test target: /fast, /slow?ms=N, /error (500), /reset (dropped mid-body)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(512)
    port = listener.getsockname()[1]
    proc = subprocess.Popen([sys.executable, str(HERE / "target_app.py"), str(listener.fileno())],
                            pass_fds=[listener.fileno()], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    listener.close()  # the child owns it now
    try:
        _wait_ready(f"http://127.0.0.1:{port}/fast", proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


@pytest.fixture()
def closed_port() -> int:
    """A 127.0.0.1 port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
