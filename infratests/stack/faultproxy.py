"""The fault proxy: a Toxiproxy-API server with one proxy per link of the stack.

The server is the suite's own (``python -m infratests.faults.toxiproxy``) or,
with ``faults.server``, a Toxiproxy server binary; on Docker the official
Toxiproxy image may run it (:mod:`infratests.stack.docker.plan`). All take the
same command line (:func:`toxiproxy_flags`) and the same config file, so
proxies are populated before the API answers. "Ready" means every proxy is
listed and enabled: Toxiproxy's own server answers even when its config file
failed to populate. Each proxy is named after the service it fronts.
"""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Mapping
from pathlib import Path

from infratests.stack.ports import LOOPBACK
from infratests.stack.runtime import ON_HOST, Runtime
from infratests.stack.service import Endpoint, Probe, ServiceSpec

__all__ = ["CONFIG_FILE", "faultproxy_spec", "server_flags", "toxiproxy_flags"]

CONFIG_FILE = "proxies.json"
_BUILT_IN = (sys.executable, "-m", "infratests.faults.toxiproxy")


def toxiproxy_flags(host: str, port: int, config: Path) -> tuple[str, ...]:
    """The command line every Toxiproxy server takes (its binary, its image, ours): API address and config."""
    return ("-host", host, "-port", str(port), "-config", str(config))


def server_flags(spec: ServiceSpec) -> tuple[str, ...]:
    """The :func:`toxiproxy_flags` of a fault proxy spec, without the program that runs them."""
    return spec.argv[spec.argv.index("-host"):]


def faultproxy_spec(port: int, proxies: Mapping[str, tuple[Endpoint, Endpoint]], workdir: Path,
                    name: str = "faultproxy", runtime: Runtime = ON_HOST, server: Path | None = None) -> ServiceSpec:
    """``proxies`` maps a proxy name to (listen, upstream); the API and listeners bind ``runtime.bind``.

    ``server`` is a Toxiproxy server binary (``faults.server``); None runs the suite's own.
    """
    config = [{"name": proxy, "listen": f"{runtime.bind}:{listen.port}", "upstream": upstream.address, "enabled": True}
              for proxy, (listen, upstream) in proxies.items()]
    base = f"http://{LOOPBACK}:{port}"
    program = (str(server),) if server is not None else _BUILT_IN
    return ServiceSpec(
        name=name, kind="faultproxy",
        argv=(*program, *toxiproxy_flags(runtime.bind, port, workdir / CONFIG_FILE)),
        endpoint=Endpoint(LOOPBACK, port, base), probe=_all_listening(port, set(proxies)),
        files={CONFIG_FILE: json.dumps(config, indent=2)},
        stop_signal=signal.SIGTERM, privileged_ok=True,
        ready_hint=f"GET {base}/proxies lists {', '.join(sorted(proxies))} enabled",
    )


def _all_listening(port: int, names: set[str]) -> Probe:
    """GET /proxies: every proxy of the config is there and enabled (listening)."""
    import http.client

    def probe() -> None:
        conn = http.client.HTTPConnection(LOOPBACK, port, timeout=1.0)
        try:
            conn.request("GET", "/proxies")
            listed = json.loads(conn.getresponse().read() or b"{}")
        except (http.client.HTTPException, ValueError) as error:
            raise ConnectionError(f"GET /proxies: {error!r}") from error
        finally:
            conn.close()
        missing = sorted(n for n in names if not listed.get(n, {}).get("enabled"))
        if missing:
            raise ConnectionError(f"fault proxy up, but not listening for {', '.join(missing)}")
    return probe
