"""The local-process backend: a server as a child process of this run.

Each process runs in its own session (``setsid``), carries the session marker,
writes stdout/stderr to ``<workdir>/service.log`` and, when the suite runs as
root, runs as the profile's unprivileged user. ``start()`` refuses when
something already answers on the port. Faults are signals to the process
group, so a crash takes the server's children (Postgres backends, nginx
workers) with it, as a real crash does.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from collections import deque
from pathlib import Path
from typing import Self

from infratests.errors import PortInUse, ServiceError
from infratests.janitor import Session
from infratests.stack.readiness import wait_until_ready
from infratests.stack.service import Endpoint, ServiceSpec

__all__ = ["LocalProcess", "unprivileged_user"]


def unprivileged_user(run_as: str) -> str | None:
    """The user to run servers as: ``run_as`` when we are root, else ourselves."""
    if os.geteuid() != 0 or not run_as:
        return None
    try:
        pwd.getpwnam(run_as)
    except KeyError:
        from infratests.errors import ConfigError
        raise ConfigError(f"run_as = {run_as!r}: no such user; create it "
                          f"(useradd --system {run_as}) or set run_as to an existing user",
                          "run_as") from None
    return run_as


class LocalProcess:
    """A :class:`~infratests.stack.service.Service` backed by a local child process."""

    def __init__(self, spec: ServiceSpec, session: Session, user: str | None,
                 startup_timeout: float = 30.0) -> None:
        self.spec = spec
        self.name, self.kind = spec.name, spec.kind
        self.workdir = session.service_dir(spec.name)
        self.ready_after: float | None = None
        self._session = session
        self._user = None if spec.privileged_ok else user
        self._timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._prepared = False

    def __repr__(self) -> str:
        return f"<LocalProcess {self.name} {self.endpoint.address}>"

    @property
    def endpoint(self) -> Endpoint:
        return self.spec.endpoint

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def log_path(self) -> Path:
        return self.workdir / "service.log"

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.stop(graceful=False)
            raise

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def start(self) -> Self:
        """Spawn and wait until the readiness probe passes."""
        return self.spawn().wait_ready()

    def spawn(self) -> Self:
        if self.is_running():
            return self
        self._refuse_busy_port()
        if not self._prepared:
            self._prepare()
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                self.spec.argv, cwd=self.workdir, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                env={**os.environ, **self.spec.env, **self._session.child_env()},
                user=self._user,
            )
        self._session.record_group(self._process.pid)
        return self

    def wait_ready(self, timeout: float | None = None) -> Self:
        self.ready_after = wait_until_ready(
            self.name, self.spec.probe, timeout or self._timeout, self.spec.transient,
            self.is_running, self.logs)
        return self

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def is_ready(self) -> bool:
        try:
            self.spec.probe()
        except self.spec.transient:
            return False
        return True

    def stop(self, graceful: bool = True, timeout: float = 10.0) -> None:
        """Graceful: the server's own stop signal, SIGKILL after ``timeout``. Idempotent."""
        if self._process is None:
            return
        if graceful and self.is_running():
            self._signal_group(signal.SIGCONT)
            self._process.send_signal(self.spec.stop_signal)
            self._wait(timeout)
        self._signal_group(signal.SIGKILL)
        self._wait(5.0)
        self._process = None

    def kill(self) -> None:
        """Crash: SIGKILL the whole process group, as a real crash takes the children too."""
        self._signal_group(signal.SIGKILL)
        self._wait(5.0)

    def pause(self) -> None:
        self._signal_group(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal_group(signal.SIGCONT)

    def terminate(self, timeout: float = 30.0) -> int | None:
        """SIGTERM the main process; its exit code, or None if it still runs after ``timeout``."""
        if not self.is_running():
            return self._process.returncode if self._process else None
        assert self._process is not None
        self._process.send_signal(signal.SIGTERM)
        return self._wait(timeout)

    def restart(self, down_for: float = 0.0) -> Self:
        """Stop gracefully, stay down ``down_for`` seconds (a fault in itself), start again."""
        self.stop()
        if down_for:
            time.sleep(down_for)
        return self.start()

    def logs(self, lines: int = 50) -> str:
        try:
            with self.log_path.open("rb") as log:
                return b"".join(deque(log, maxlen=lines)).decode(errors="replace")
        except FileNotFoundError:
            return ""

    def _wait(self, timeout: float) -> int | None:
        assert self._process is not None
        try:
            return self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def _signal_group(self, signum: int) -> None:
        if self._process is None:
            return
        try:
            os.killpg(self._process.pid, signum)
        except ProcessLookupError:
            pass

    def _refuse_busy_port(self) -> None:
        try:
            socket.create_connection((self.endpoint.host, self.endpoint.port), timeout=0.2).close()
        except OSError:
            return
        raise PortInUse(f"{self.name}: something already answers on {self.endpoint.address}; "
                        "stop it or let the suite pick another port", self.name)

    def _prepare(self) -> None:
        for relative, content in self.spec.files.items():
            (self.workdir / relative).write_text(content)
        if self.spec.prepare is not None:
            self.spec.prepare(self.workdir)
        if self._user is not None:
            _chown_tree(self.workdir, self._user)
        self._prepared = True


def _chown_tree(path: Path, user: str) -> None:
    for root, dirs, files in os.walk(path):
        for name in (*dirs, *files):
            shutil.chown(os.path.join(root, name), user)
    shutil.chown(path, user)
    if not os.access(path.parent, os.X_OK):
        raise ServiceError(f"{path.parent} is not searchable by {user}", path)
