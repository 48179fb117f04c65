"""Where a stack's services run: the backend callable, the runtime it builds specs for, and the
network around them. A leaf of ``stack/``: the backends (local, Docker, external) all build a
:class:`Placement`; :mod:`infratests.stack.backends` chooses which."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from infratests.session import Session
from infratests.stack.ports import LOOPBACK
from infratests.stack.runtime import ON_HOST, Runtime
from infratests.stack.service import Service, ServiceSpec

__all__ = ["HOST_NETWORK", "REMOTE_NETWORK", "Backend", "HostNetwork", "Network", "Placement", "RemoteNetwork"]

Backend = Callable[[ServiceSpec, Session, str | None, float], Service]
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
