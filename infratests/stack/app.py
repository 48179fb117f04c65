"""The app tier: N replicas of the profile's app command, and the external dependency.

Each replica gets the app contract's environment (docs/app-contract.md):
HOST, PORT, INSTANCE, DATABASE_URL (through PgBouncer), REDIS_URL,
REDIS_LOCK_URLS, DEPENDENCY_URL, HEALTH_SECRET. Readiness is an HTTP GET of
the profile's ``app.ready_path``. Our own Python services run as the invoking
user: their interpreter may live in a home directory others cannot enter.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Mapping
from pathlib import Path

from infratests.config import Profile
from infratests.stack.ports import LOOPBACK
from infratests.stack.readiness import http_probe
from infratests.stack.runtime import ON_HOST, Runtime
from infratests.stack.service import Endpoint, ServiceSpec

__all__ = ["app_spec", "dependency_spec", "replica_names", "HEALTH_SECRET_ENV"]

HEALTH_SECRET_ENV = "HEALTH_SECRET"


def replica_names(profile: Profile) -> list[str]:
    return [f"app-{index}" for index in range(1, profile.app.replicas + 1)]


def app_spec(profile: Profile, name: str, port: int, links: Mapping[str, str],
             workdir: Path, runtime: Runtime = ON_HOST) -> ServiceSpec:
    """One replica on ``runtime.bind``:``port``; ``links`` holds the contract's URL variables, already wired
    through proxies."""
    env = {
        "HOST": runtime.bind, "PORT": str(port), "INSTANCE": name,
        "REFAPP_POOL_MAX": str(profile.app.pool_max), "REFAPP_POOL_MIN": str(profile.app.pool_min),
        **links, **profile.app.env,
    }
    base = f"http://{LOOPBACK}:{port}"
    return ServiceSpec(
        name=name, kind="app", argv=profile.app_command(),
        endpoint=Endpoint(LOOPBACK, port, base), env=env,
        probe=http_probe(base + profile.app.ready_path),
        stop_signal=signal.SIGTERM, privileged_ok=not profile.app.command,
    )


def dependency_spec(port: int, workdir: Path, name: str = "dependency", runtime: Runtime = ON_HOST) -> ServiceSpec:
    """The external HTTP dependency the breaker guards (``GET /quote``)."""
    base = f"http://{LOOPBACK}:{port}"
    return ServiceSpec(
        name=name, kind="dependency",
        argv=(sys.executable, "-m", "infratests.refapp.dependency"),
        endpoint=Endpoint(LOOPBACK, port, base), env={"HOST": runtime.bind, "PORT": str(port)},
        probe=http_probe(base + "/health"), stop_signal=signal.SIGTERM, privileged_ok=True,
    )
