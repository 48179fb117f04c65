"""Backends: what runs a service spec. ``local`` runs a child process, ``docker`` a container.

:func:`resolve` gives a :class:`Placement` per stack (or per extra service):
the backend callable ``(spec, session, user, startup_timeout) -> Service``, the
runtime the service modules build specs for (bind address, whose binaries),
and the network set up before the first service starts
and removed after the last. Scenarios never see which one ran their services.
``auto`` picks ``docker`` when a daemon answers and its images are present,
else ``local``, and says why. ``external`` starts nothing: the profile's
``[external]`` table names an environment that already runs.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from infratests.config import Profile
from infratests.errors import ConfigError
from infratests.janitor import Session
from infratests.stack.local import LocalProcess
from infratests.stack.ports import LOOPBACK
from infratests.stack.runtime import ON_HOST, Runtime
from infratests.stack.service import Service, ServiceSpec

__all__ = ["CHOICES", "HOST_NETWORK", "REMOTE_NETWORK", "Backend", "HostNetwork", "Network", "Placement",
           "RemoteNetwork", "resolve"]

Backend = Callable[[ServiceSpec, Session, str | None, float], Service]
CHOICES = ("local", "docker", "auto", "external")


class Network(Protocol):
    """Set up before a group of services starts, removed after it stopped."""

    @property
    def is_up(self) -> bool: ...

    @property
    def proc_net(self) -> Path | None:
        """The /proc ``net`` directory of the services' namespace (None when unreadable)."""

    def internal_peers(self) -> tuple[str, ...]: ...

    def up(self, ports: Collection[int]) -> None: ...

    def down(self) -> None: ...


class HostNetwork:
    """The host's own network (local processes, or containers with ``network_mode=host``):
    servers bind 127.0.0.1, there is nothing to make or remove."""

    mode, bind, is_up = "host", LOOPBACK, False
    proc_net: Path | None = Path("/proc/net")

    def internal_peers(self) -> tuple[str, ...]:
        return ()  # requests come from the host's own loopback

    def up(self, ports: Collection[int]) -> None:
        """The host's namespace exists: nothing to make."""

    def down(self) -> None:
        """Nothing to remove."""


HOST_NETWORK = HostNetwork()


class RemoteNetwork(HostNetwork):
    """An environment elsewhere (the external backend): reached by address, its sockets not readable."""

    mode = "remote"
    proc_net: Path | None = None


REMOTE_NETWORK = RemoteNetwork()


@dataclass(frozen=True)
class Placement:
    """Where one stack's services run: ``name`` is ``local`` or ``docker``."""

    name: str
    run: Backend
    runtime: Runtime = ON_HOST
    network: Network = HOST_NETWORK


def resolve(name: str, profile: Profile, session: Session) -> Placement:
    """A new placement for ``name`` (``auto`` resolved) configured for ``profile``; logs the choice."""
    if name not in CHOICES:
        raise ConfigError(f"backend {name!r}: choose one of {', '.join(CHOICES)}", "backend")
    if name == "local":
        return Placement("local", LocalProcess)
    if name == "external":
        return Placement("external", _never_run, network=REMOTE_NETWORK)
    from infratests.stack.docker.choose import choose_backend, docker_placement

    chosen, why = choose_backend(name, profile)
    if chosen == "local":
        _say(f"backend auto -> local: {why}")
        return Placement("local", LocalProcess)
    placement, how = docker_placement(profile, session)
    _say(f"backend {name} -> docker: {why}; {how}")
    return placement


def _never_run(spec: ServiceSpec, *_args: object) -> Service:
    raise ConfigError(f"{spec.name}: the external backend starts nothing; name it in [external]", "external")


def _say(line: str) -> None:
    logging.getLogger("infratests").info(line)
    print(f"infratests: {line}", file=sys.stderr, flush=True)
