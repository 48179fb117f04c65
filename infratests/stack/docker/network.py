"""Where a stack's containers listen: the host's network, or a pod on a bridge network.

``host``: every container shares the host's network namespace and binds the
stack's known loopback ports (Linux with a local daemon; the only choice where
no bridge network can be made).

``bridge``: a pod, as Kubernetes makes one. A bridge network is created for the
stack and a sandbox container on it holds one network namespace, publishing
each of the stack's ports on the host's 127.0.0.1 under the same number. Every
service container joins that namespace (``network_mode=container:<sandbox>``),
so services reach each other on 127.0.0.1 exactly as on the host, rendered
configs need no change, and a crashed or restarted service keeps its
namespace and its published ports. Servers bind 0.0.0.0 inside the pod, which
is reachable only through the loopback ports published by Docker.

``auto`` picks ``bridge`` when this daemon can create a bridge network (Docker
Desktop, CI runners, and this machine's ``dockerd --bridge=none``), else ``host``.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Collection
from pathlib import Path
from typing import Any, Protocol

from infratests.errors import ConfigError
from infratests.session import Session
from infratests.stack.docker.calls import quietly
from infratests.stack.docker.reaper import SESSION_LABEL
from infratests.stack.placement import HOST_NETWORK, Network
from infratests.stack.ports import LOOPBACK

__all__ = ["ANY_ADDRESS", "HOST", "NetworkPlacement", "Pod", "bridge_available", "choose_network"]

ANY_ADDRESS = "0.0.0.0"


class NetworkPlacement(Network, Protocol):
    """How a group of containers is networked: set up before the first starts, removed after the last;
    ``internal_peers`` are where the host's requests to a published port come from."""

    @property
    def mode(self) -> str:
        """The containers' ``network_mode``."""

    @property
    def bind(self) -> str:
        """The address servers listen on."""

    @property
    def proc_net(self) -> Path | None:
        """The /proc ``net`` directory of the containers' namespace (None when unreadable)."""


HOST: NetworkPlacement = HOST_NETWORK


class Pod:
    """A bridge network and a sandbox container holding the namespace a stack's containers join."""

    bind = ANY_ADDRESS

    def __init__(self, session: Session, image: str) -> None:
        self._session, self._image = session, image
        self.name = f"infratests-{session.id}-pod-{uuid.uuid4().hex[:6]}"
        self._network: Any = None
        self._sandbox: Any = None

    def __repr__(self) -> str:
        return f"<Pod {self.name}>"

    @property
    def mode(self) -> str:
        return f"container:{self.name}"

    @property
    def is_up(self) -> bool:
        return self._sandbox is not None

    @property
    def proc_net(self) -> Path | None:
        if self._sandbox is None:
            return None
        sandbox = self._sandbox.get_wrapped_container()
        sandbox.reload()  # the attributes are from its creation until reloaded: no pid yet then
        table = Path(f"/proc/{sandbox.attrs['State']['Pid']}/net")
        try:
            (table / "tcp").read_bytes()
        except OSError:  # not root, or the daemon runs in a VM (Docker Desktop): probes alone decide
            return None
        return table

    def internal_peers(self) -> tuple[str, ...]:
        """The network's gateway: Docker's proxy for a published port connects from there."""
        import docker  # type: ignore[import-untyped]

        created = docker.from_env(timeout=10).networks.get(self._ensure_network().id)
        return tuple(f"{config['Gateway']}/32" for config in created.attrs["IPAM"]["Config"])

    def up(self, ports: Collection[int]) -> None:
        """Create the network and start the sandbox publishing ``ports`` on 127.0.0.1 (idempotent)."""
        from testcontainers.core.container import DockerContainer

        if self._sandbox is not None:
            return
        network = self._ensure_network()
        sandbox = (DockerContainer(self._image).with_name(self.name).with_network(network)
                   .with_command(["sleep", "infinity"]))
        # docker-py takes (address, port): publish on the host's loopback only, under the same number.
        sandbox.ports.update({f"{port}/tcp": (LOOPBACK, port) for port in ports})  # type: ignore[misc]
        sandbox.with_kwargs(labels=self._labels, init=True)
        self._sandbox = sandbox
        sandbox.start()

    @property
    def _labels(self) -> dict[str, str]:
        return {SESSION_LABEL: self._session.id}

    def _ensure_network(self) -> Any:
        from testcontainers.core.network import Network

        if self._network is None:
            network = Network(docker_network_kw={"driver": "bridge", "labels": self._labels})
            network.name = self.name
            self._network = network.create()
        return self._network

    def down(self) -> None:
        """Remove the sandbox, then the network; idempotent, quiet about what is already gone."""
        if self._sandbox is not None:
            wrapped = self._sandbox._container  # None when start failed before create
            if wrapped is not None:
                quietly(wrapped.remove, force=True, v=True)
            self._sandbox = None
        if self._network is not None:
            quietly(self._network.remove)
            self._network = None


@functools.cache
def bridge_available() -> bool:
    """Can this daemon create a bridge network? (Made and removed once per process.)"""
    import docker  # type: ignore[import-untyped]

    client = docker.from_env(timeout=10)
    try:
        probe = client.networks.create(f"infratests-probe-{uuid.uuid4().hex[:8]}", driver="bridge")
    except docker.errors.APIError:
        return False
    probe.remove()
    return True


def choose_network(wanted: str) -> tuple[str, str]:
    """``docker.network`` resolved to ``host`` or ``bridge``, with the reason."""
    if wanted == "host":
        return "host", "host network (docker.network = \"host\")"
    available = bridge_available()
    if wanted == "bridge":
        if not available:
            raise ConfigError("docker.network = \"bridge\" but this Docker daemon cannot create a bridge "
                              "network; set docker.network = \"host\"", "docker.network")
        return "bridge", "a pod per stack on a bridge network, ports published on 127.0.0.1"
    if available:
        return "bridge", "a pod per stack on a bridge network, ports published on 127.0.0.1 (auto)"
    return "host", "host network (auto: this daemon cannot create a bridge network)"
