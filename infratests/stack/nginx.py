"""nginx 1.22 in front of the app replicas: TLS + HTTP/2, redirect, upstream keepalive.

Readiness is an HTTPS GET of nginx's own ``/nginx-health`` (it does not depend
on the apps). Graceful stop is SIGQUIT.
"""

from __future__ import annotations

import signal
import ssl
from collections.abc import Sequence
from pathlib import Path

from infratests.config import Profile
from infratests.stack.ports import LOOPBACK
from infratests.stack.readiness import http_probe
from infratests.stack.runtime import ON_HOST, Runtime
from infratests.stack.service import Endpoint, ServiceSpec
from infratests.stack.templates import render
from infratests.stack.tls import TlsFiles

__all__ = ["binary", "nginx_spec", "stub_status"]


def binary(profile: Profile, runtime: Runtime = ON_HOST) -> Path:
    return runtime.binary(profile.binaries.nginx, "nginx", "nginx", "nginx-light", "/usr/sbin/nginx")


def nginx_spec(profile: Profile, https_port: int, http_port: int, upstreams: Sequence[Endpoint],
               tls: TlsFiles, workdir: Path, name: str = "nginx", runtime: Runtime = ON_HOST,
               internal_peers: Sequence[str] = ()) -> ServiceSpec:
    """nginx on ``runtime.bind``; ``internal_peers`` (besides loopback) may read /nginx-status."""
    config = profile.nginx
    assert tls.cert is not None and tls.key is not None, "nginx needs the certificate the suite made"
    (workdir / "tmp").mkdir(exist_ok=True)
    conf = render("nginx.conf.j2", config.template, {
        "name": name, "host": runtime.bind, "https_port": https_port, "http_port": http_port,
        "workdir": str(workdir), "upstreams": [upstream.address for upstream in upstreams],
        "tls_cert": str(tls.cert), "tls_key": str(tls.key), "keepalive": config.keepalive,
        "rate_auth_rps": config.rate_auth_rps, "rate_webhook_rps": config.rate_webhook_rps,
        "rate_api_rps": config.rate_api_rps, "rate_api_burst": config.rate_api_burst,
        "gzip_min_length": config.gzip_min_length, "max_fails": config.max_fails,
        "fail_timeout_s": config.fail_timeout_s, "internal_peers": list(internal_peers),
    }, "nginx.template")
    base = f"https://{LOOPBACK}:{https_port}"
    return ServiceSpec(
        name=name, kind="nginx",
        argv=(str(binary(profile, runtime)), "-p", str(workdir), "-e", "stderr",
              "-c", str(workdir / "nginx.conf"), "-g", "daemon off;"),
        endpoint=Endpoint(LOOPBACK, https_port, base, {"http": f"http://{LOOPBACK}:{http_port}"}),
        probe=http_probe(f"{base}/nginx-health", ca_file=str(tls.ca)),
        files={"nginx.conf": conf}, stop_signal=signal.SIGQUIT,
        transient=(OSError, ssl.SSLError),
    )


def stub_status(text: str) -> dict[str, int]:
    """nginx's ``stub_status`` page as numbers: ``active``, ``accepts``, ``handled``, ``requests``,
    ``reading``, ``writing``, ``waiting``."""
    lines = text.split("\n")
    accepts, handled, requests = (int(n) for n in lines[2].split())
    counts = dict(zip(lines[3].split()[::2], lines[3].split()[1::2], strict=True))
    return {"active": int(lines[0].split(":")[1]), "accepts": accepts, "handled": handled, "requests": requests,
            "reading": int(counts["Reading:"]), "writing": int(counts["Writing:"]),
            "waiting": int(counts["Waiting:"])}
