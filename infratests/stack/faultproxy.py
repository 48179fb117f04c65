"""The fault proxy: a Toxiproxy-API server with one proxy per link of the stack.

Proxies are populated from a config file before the API answers, so "ready"
means every link listens. Each proxy is named after the service it fronts.
"""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Mapping
from pathlib import Path

from infratests.stack.ports import LOOPBACK
from infratests.stack.readiness import http_probe
from infratests.stack.runtime import ON_HOST, Runtime
from infratests.stack.service import Endpoint, ServiceSpec

__all__ = ["faultproxy_spec"]


def faultproxy_spec(port: int, proxies: Mapping[str, tuple[Endpoint, Endpoint]], workdir: Path,
                    name: str = "faultproxy", runtime: Runtime = ON_HOST) -> ServiceSpec:
    """``proxies`` maps a proxy name to (listen, upstream); the API and listeners bind ``runtime.bind``."""
    config = [{"name": proxy, "listen": f"{runtime.bind}:{listen.port}", "upstream": upstream.address, "enabled": True}
              for proxy, (listen, upstream) in proxies.items()]
    base = f"http://{LOOPBACK}:{port}"
    return ServiceSpec(
        name=name, kind="faultproxy",
        argv=(sys.executable, "-m", "infratests.faults.toxiproxy", "--host", runtime.bind,
              "--port", str(port), "--config", str(workdir / "proxies.json")),
        endpoint=Endpoint(LOOPBACK, port, base), probe=http_probe(base + "/version"),
        files={"proxies.json": json.dumps(config, indent=2)},
        stop_signal=signal.SIGTERM, privileged_ok=True,
    )
