"""Readiness of a container on its known port, as a testcontainers wait strategy.

With host networking ``get_exposed_port()`` raises, and a pod publishes known
ports, so testcontainers' port and HTTP strategies are not used: the spec's own
real-protocol probe reaches the known port from the host side. It first waits,
without connecting, until the port is in LISTEN state in the containers'
network namespace: connecting early to a loopback port in the ephemeral range
can connect the probe to itself (it reads its own request back) or hold the
port as a source port so the server cannot bind it; through a pod's published
port, an early connection only meets Docker's proxy, which hangs up.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from testcontainers.core.wait_strategies import WaitStrategy
from testcontainers.core.waiting_utils import WaitStrategyTarget

from infratests.stack.readiness import wait_until_ready
from infratests.stack.service import Probe, ServiceSpec

__all__ = ["ProbeWaitStrategy", "listening"]


class ProbeWaitStrategy(WaitStrategy):
    """Ready when ``spec``'s port listens and its probe passes; fails fast when ``alive()`` is False.

    ``proc_net`` is the namespace's /proc ``net`` directory (None: unreadable, the probe alone
    decides). On timeout or exit the error carries ``logs()``; ``waited`` is the seconds it took.
    """

    def __init__(self, spec: ServiceSpec, alive: Callable[[], bool], logs: Callable[[], str],
                 timeout: float, proc_net: Path | None = Path("/proc/net")) -> None:
        super().__init__()
        self.spec, self.alive, self.logs, self.proc_net = spec, alive, logs, proc_net
        self.with_startup_timeout(int(timeout) or 1)
        self.waited: float = 0.0

    def wait_until_ready(self, container: WaitStrategyTarget | None = None) -> None:
        spec = self.spec
        began = time.monotonic()
        if self.proc_net is not None:
            wait_until_ready(spec.name, listening(spec.endpoint.port, self.proc_net), self._startup_timeout,
                             (OSError,), self.alive, self.logs)
        left = max(1.0, self._startup_timeout - (time.monotonic() - began))
        wait_until_ready(spec.name, spec.probe, left, spec.transient, self.alive, self.logs)
        self.waited = time.monotonic() - began


def listening(port: int, proc_net: Path = Path("/proc/net")) -> Probe:
    """Raises until a socket listens on ``port`` (read from ``proc_net``/tcp*, no connection made)."""
    needle = f":{port:04X} "

    def probe() -> None:
        for table in ("tcp", "tcp6"):
            with open(proc_net / table) as rows:
                if any(needle in row and row.split()[3] == "0A" for row in rows):
                    return
        raise ConnectionRefusedError(f"nothing listens on port {port} yet")
    return probe
