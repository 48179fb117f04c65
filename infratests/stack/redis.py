"""Redis 7 nodes: three independent lock nodes and one cache node, PING readiness."""

from __future__ import annotations

import shutil
import signal
from pathlib import Path

from infratests.config import Profile
from infratests.errors import ConfigError
from infratests.stack.ports import LOOPBACK
from infratests.stack.readiness import redis_probe
from infratests.stack.service import Endpoint, ServiceSpec
from infratests.stack.templates import render

__all__ = ["redis_spec", "binary", "lock_node_names", "CACHE_NODE"]

CACHE_NODE = "redis-cache"


def lock_node_names(profile: Profile) -> list[str]:
    return [f"redis-{index}" for index in range(1, profile.redis.lock_nodes + 1)]


def binary(profile: Profile) -> Path:
    found = profile.binaries.redis_server or shutil.which("redis-server")
    if not found or not Path(found).is_file():
        raise ConfigError("binaries.redis_server: redis-server not found; install it "
                          "(apt-get install -y redis-server) or set binaries.redis_server",
                          "binaries.redis_server")
    return Path(found)


def redis_spec(profile: Profile, name: str, port: int, workdir: Path) -> ServiceSpec:
    config = profile.redis
    conf = render("redis.conf.j2", config.template, {
        "name": name, "host": LOOPBACK, "port": port, "workdir": str(workdir),
        "appendonly": config.appendonly, "appendfsync": config.appendfsync,
        "maxmemory": config.maxmemory, "maxmemory_policy": config.maxmemory_policy,
    }, "redis.template")
    return ServiceSpec(
        name=name, kind="redis",
        argv=(str(binary(profile)), str(workdir / "redis.conf")),
        endpoint=Endpoint(LOOPBACK, port, f"redis://{LOOPBACK}:{port}/0"),
        probe=redis_probe(LOOPBACK, port), files={"redis.conf": conf},
        stop_signal=signal.SIGTERM,
        transient=(OSError,),
    )
