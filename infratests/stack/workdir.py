"""What every backend that runs a spec shares: its working directory and lifecycle skeleton.

A backend subclass says how to launch the prepared spec (``_launch``), whether
it runs, how to wait, stop and fault it, and how to tell that its port is
taken. This base renders the spec's files once, runs its ``prepare`` hook,
hands the directory to the unprivileged user, refuses a busy port, and makes
the service a context manager that tears down even when start failed halfway.
"""

from __future__ import annotations

import os
import shutil
from collections import deque
from pathlib import Path
from typing import Self

from infratests.errors import PortInUse, ServiceError
from infratests.session import Session
from infratests.stack.service import Endpoint, ServiceSpec

__all__ = ["WorkdirService"]


class WorkdirService:
    """Base of :class:`~infratests.stack.local.LocalProcess` and the Docker backend's service."""

    def __init__(self, spec: ServiceSpec, session: Session, user: str | None,
                 startup_timeout: float = 30.0) -> None:
        self.spec = spec
        self.name, self.kind = spec.name, spec.kind
        self.workdir = session.service_dir(spec.name)
        self.ready_after: float | None = None
        self._session = session
        self._user = spec.user or (None if spec.privileged_ok else user)
        self._timeout = startup_timeout
        self._prepared = False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.endpoint.address}>"

    @property
    def endpoint(self) -> Endpoint:
        return self.spec.endpoint

    @property
    def log_path(self) -> Path:
        """The server's stdout and stderr."""
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
        """Launch and wait until the readiness probe passes."""
        return self.spawn().wait_ready()

    def spawn(self) -> Self:
        """Launch without waiting (the stack starts a wave of services, then waits for all)."""
        if self.is_running():
            return self
        if self._port_taken():
            raise PortInUse(f"{self.name}: something already listens on {self.endpoint.address}; "
                            "stop it or let the suite pick another port", self.name)
        if not self._prepared:
            self._prepare()
        self._launch()
        return self

    def is_ready(self) -> bool:
        try:
            self.spec.probe()
        except self.spec.transient:
            return False
        return True

    def _log_tail(self, lines: int) -> str | None:
        """The last ``lines`` of ``service.log``; None when the server never wrote one."""
        try:
            with self.log_path.open("rb") as log:
                return b"".join(deque(log, maxlen=lines)).decode(errors="replace")
        except FileNotFoundError:
            return None

    def _prepare(self) -> None:
        for relative, content in self.spec.files.items():
            (self.workdir / relative).write_text(content)
        if self.spec.prepare is not None:
            self.spec.prepare(self.workdir)
        if self._user is not None:
            _chown_tree(self.workdir, self._user)
        self._prepared = True

    # What a backend provides.
    def _launch(self) -> None:
        raise NotImplementedError

    def _port_taken(self) -> bool:
        raise NotImplementedError

    def is_running(self) -> bool:
        raise NotImplementedError

    def wait_ready(self, timeout: float | None = None) -> Self:
        raise NotImplementedError

    def stop(self, graceful: bool = True, timeout: float = 10.0) -> None:
        raise NotImplementedError


def _chown_tree(path: Path, user: str) -> None:
    for root, dirs, files in os.walk(path):
        for name in (*dirs, *files):
            shutil.chown(os.path.join(root, name), user)
    shutil.chown(path, user)
    if not os.access(path.parent, os.X_OK):
        raise ServiceError(f"{path.parent} is not searchable by {user}", path)
