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
import signal
import socket
import subprocess
import time
from typing import Self

from infratests.session import Session
from infratests.stack.readiness import wait_until_ready
from infratests.stack.service import ServiceSpec
from infratests.stack.workdir import WorkdirService

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


class LocalProcess(WorkdirService):
    """A :class:`~infratests.stack.service.Service` backed by a local child process."""

    def __init__(self, spec: ServiceSpec, session: Session, user: str | None,
                 startup_timeout: float = 30.0) -> None:
        super().__init__(spec, session, user, startup_timeout)
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def _launch(self) -> None:
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                self.spec.argv, cwd=self.spec.cwd or self.workdir, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                env={**os.environ, **self.spec.env, **self._session.child_env()},
                user=self._user,
            )
        self._session.record_group(self._process.pid)

    def wait_ready(self, timeout: float | None = None) -> Self:
        self.ready_after = wait_until_ready(
            self.name, self.spec.probe, timeout or self._timeout, self.spec.transient,
            self.is_running, self.logs, self.spec.ready_hint, self._exit_code)
        return self

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _exit_code(self) -> int | None:
        return self._process.poll() if self._process else None

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
        return self._log_tail(lines) or ""

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

    def _port_taken(self) -> bool:
        try:
            socket.create_connection((self.endpoint.host, self.endpoint.port), timeout=0.2).close()
        except OSError:
            return False
        return True
