"""The Service API: one small protocol whatever runs a service.

A local process, a container and an external endpoint all satisfy
:class:`Service`. Nothing here assumes a local PID: an operation a backend
cannot do raises :class:`~infratests.errors.UnsupportedOperation`, which
scenarios turn into a skip with the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, Self, runtime_checkable

__all__ = ["Endpoint", "ServiceSpec", "Service", "Probe"]

Probe = Callable[[], None]
"""Raises while the service is not ready; returns once it answers its real protocol."""


@dataclass(frozen=True)
class Endpoint:
    """Where a service answers; ``url`` is its DSN or URL (with credentials if any).

    ``extra`` names further URLs of the same service (nginx's plain-HTTP
    listener, PgBouncer's admin console).
    """

    host: str
    port: int
    url: str
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class ServiceSpec:
    """What to run, backend-neutral: the service modules build these.

    ``files`` are rendered into the service's working directory before start
    (relative path -> content); ``prepare`` runs once before the first start
    (e.g. copy a cached Postgres data directory); ``probe`` is the readiness
    probe and ``ready_hint`` says what it waits for and which keys set it (for a
    service that never becomes ready); ``stop_signal`` is the server's own
    graceful-stop signal. A service runs as the stack's unprivileged server user
    when the suite runs as root, unless ``privileged_ok`` (our own Python services:
    the invoking user) or ``user`` (a user of its own) says otherwise; in ``cwd``,
    else in its working directory.
    """

    name: str
    kind: str
    argv: tuple[str, ...]
    endpoint: Endpoint
    probe: Probe
    env: Mapping[str, str] = field(default_factory=dict)
    files: Mapping[str, str] = field(default_factory=dict)
    prepare: Callable[[Path], None] | None = None
    stop_signal: int = 15
    privileged_ok: bool = False
    user: str | None = None
    cwd: Path | None = None
    ready_hint: str = ""
    transient: tuple[type[BaseException], ...] = (OSError,)


@runtime_checkable
class Service(Protocol):
    """A running (or runnable) service of the stack."""

    name: str
    kind: str

    @property
    def endpoint(self) -> Endpoint: ...

    def start(self) -> Self: ...

    def stop(self, graceful: bool = True, timeout: float = 10.0) -> None: ...

    def kill(self) -> None: ...

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def terminate(self, timeout: float = 30.0) -> int | None: ...

    def restart(self, down_for: float = 0.0) -> Self: ...

    def logs(self, lines: int = 50) -> str: ...

    def is_running(self) -> bool: ...

    def is_ready(self) -> bool: ...

    def wait_ready(self, timeout: float | None = None) -> Self: ...
