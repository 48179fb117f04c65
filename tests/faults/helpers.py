"""Helpers for the fault tests: the server subprocess, local TCP servers, socket timing.

The server under test is ours (``python -m infratests.faults.toxiproxy``), or the
Toxiproxy server binary named by ``$INFRATESTS_TOXIPROXY_SERVER``: the same tests
hold both to Toxiproxy's documented behaviour.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from infratests.errors import ReadinessTimeout

HOST = "127.0.0.1"
SERVER_ENV = "INFRATESTS_TOXIPROXY_SERVER"


def server_command() -> list[str]:
    """The server under test: the binary in ``$INFRATESTS_TOXIPROXY_SERVER``, else ours."""
    binary = os.environ.get(SERVER_ENV, "")
    return [binary] if binary else [sys.executable, "-m", "infratests.faults.toxiproxy"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class ServerProcess:
    """The server under test (:func:`server_command`) in its own session; killed as a group."""

    def __init__(self, proc: subprocess.Popen[bytes], port: int, log: Path, started: float) -> None:
        self.proc, self.host, self.port, self.log, self.started = proc, HOST, port, log, started
        self.ready_s = 0.0

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def wait_ready(self, deadline_s: float = 15.0) -> None:
        """Poll GET /version (the real API) until it answers or the deadline passes."""
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                break
            with contextlib.suppress(OSError):
                urllib.request.urlopen(self.url + "/version", timeout=1).read()
                self.ready_s = time.monotonic() - self.started
                return
            time.sleep(0.01)
        tail = self.log.read_text(errors="replace")[-2000:]
        raise ReadinessTimeout(f"toxiproxy server not ready after {deadline_s}s; log:\n{tail}", subject=self)

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)


@contextlib.contextmanager
def toxiproxy_process(
    *flags: str, port: int | None = None, config: list[dict[str, Any]] | None = None
) -> Iterator[ServerProcess]:
    """Start the server (``flags`` replace ``--host 127.0.0.1 --port PORT``), wait for /version."""
    with tempfile.TemporaryDirectory(prefix="tp-") as tmp:
        log = Path(tmp) / "server.log"
        port = port or free_port()
        args = list(flags) or ["--host", HOST, "--port", str(port)]
        if config is not None:
            (Path(tmp) / "config.json").write_text(json.dumps(config))
            args += ["--config", str(Path(tmp) / "config.json")]
        with open(log, "wb") as out:
            started = time.monotonic()
            proc = subprocess.Popen(
                [*server_command(), *args],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )
        server = ServerProcess(proc, port, log, started)
        try:
            server.wait_ready()
            yield server
        finally:
            server.stop()


class TcpServer:
    """A threaded TCP server on 127.0.0.1:0; ``handler(conn)`` runs per connection."""

    def __init__(self, handler: Callable[[socket.socket], None]) -> None:
        self._handler = handler
        self._sock = socket.create_server((HOST, 0), backlog=256)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self.address = f"{HOST}:{self.port}"
        self._conns: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            self._conns.append(conn)
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            self._handler(conn)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.close()


def echo_handler(conn: socket.socket) -> None:
    with conn:
        while data := conn.recv(65536):
            conn.sendall(data)


def hold_handler(conn: socket.socket) -> None:
    """Accept and never read (a stalled consumer) until the server closes the socket."""
    while conn.fileno() != -1:
        time.sleep(0.05)


def connect(proxy: Any, timeout: float = 5.0) -> socket.socket:
    host, port = proxy.listen.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            break
        buf += chunk
    return bytes(buf)


def round_trip(sock: socket.socket, payload: bytes = b"ping") -> float:
    start = time.monotonic()
    sock.sendall(payload)
    assert recv_exact(sock, len(payload)) == payload
    return time.monotonic() - start
