"""Redis 7 nodes: three independent lock nodes and one cache node, PING readiness."""

from __future__ import annotations

import signal
from pathlib import Path

from infratests.config import Profile
from infratests.stack.ports import LOOPBACK
from infratests.stack.readiness import redis_probe
from infratests.stack.runtime import ON_HOST, Runtime
from infratests.stack.service import Endpoint, ServiceSpec
from infratests.stack.templates import render

__all__ = ["redis_spec", "binary", "lock_node_names", "CACHE_NODE"]

CACHE_NODE = "redis-cache"


def lock_node_names(profile: Profile) -> list[str]:
    return [f"redis-{index}" for index in range(1, profile.redis.lock_nodes + 1)]


def binary(profile: Profile, runtime: Runtime = ON_HOST) -> Path:
    return runtime.binary(profile.binaries.redis_server, "redis-server", "redis_server", "redis-server",
                          "/usr/bin/redis-server")


def redis_spec(profile: Profile, name: str, port: int, workdir: Path, runtime: Runtime = ON_HOST) -> ServiceSpec:
    """A Redis node on ``runtime.bind``:``port``, reached at 127.0.0.1; protected mode unless bound to all."""
    config = profile.redis
    conf = render("redis.conf.j2", config.template, {
        "name": name, "host": runtime.bind, "port": port, "workdir": str(workdir),
        "appendonly": config.appendonly, "appendfsync": config.appendfsync,
        "maxmemory": config.maxmemory, "maxmemory_policy": config.maxmemory_policy,
    }, "redis.template")
    return ServiceSpec(
        name=name, kind="redis",
        argv=(str(binary(profile, runtime)), str(workdir / "redis.conf")),
        endpoint=Endpoint(LOOPBACK, port, f"redis://{LOOPBACK}:{port}/0"),
        probe=redis_probe(LOOPBACK, port), files={"redis.conf": conf},
        stop_signal=signal.SIGTERM,
        transient=(OSError,),
    )
