"""``infratests bench proxy``: what the fault proxy costs, next to haproxy (and Toxiproxy), in one run.

pgbench select-only (8 clients, 2 threads) against Postgres direct, through our
proxy with no toxic, through Toxiproxy's own server when ``faults.server`` names
one, and through haproxy in tcp mode; redis-benchmark GET/SET direct and through
the proxies. Each of ``rounds`` rounds measures every path once, in turn, so a
drift of the machine spreads over all of them; ratios are computed within each
round (min / median / max over the rounds), so they hold across machines
better than the absolute figures.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import signal
import statistics
import subprocess
from collections.abc import Mapping
from contextlib import ExitStack
from typing import Any

from infratests.config import Profile
from infratests.errors import ConfigError, ServiceError
from infratests.session import Session
from infratests.stack import faultproxy, postgres, redis
from infratests.stack.local import LocalProcess, unprivileged_user
from infratests.stack.ports import LOOPBACK, free_port
from infratests.stack.readiness import tcp_probe
from infratests.stack.service import Endpoint, ServiceSpec

__all__ = ["bench_proxy"]

_HAPROXY_CFG = """global
    maxconn 2000
defaults
    mode tcp
    timeout connect 5s
    timeout client 1m
    timeout server 1m
listen pg
    bind {listen}
    server pg {upstream}
"""
# (ratio name, numerator, denominator); those naming toxiproxy only when it runs.
_RATIOS = (("proxy_over_direct", "infratests_proxy", "direct"), ("proxy_over_haproxy", "infratests_proxy", "haproxy"),
           ("haproxy_over_direct", "haproxy", "direct"), ("proxy_over_toxiproxy", "infratests_proxy", "toxiproxy"),
           ("toxiproxy_over_direct", "toxiproxy", "direct"), ("toxiproxy_over_haproxy", "toxiproxy", "haproxy"))


def bench_proxy(profile: Profile, session: Session, seconds: float = 8.0, rounds: int = 3) -> dict[str, Any]:
    """Start Postgres, Redis, the proxies and haproxy; measure ``rounds`` times; tear down; return the figures.

    Figures are ``{"min", "median", "max", "runs"}`` per path (TPS, req/s) and per ratio.
    """
    user = unprivileged_user(profile.run_as)
    with ExitStack() as running:
        def start(spec: ServiceSpec, as_user: str | None = user) -> LocalProcess:
            return running.enter_context(LocalProcess(spec, session, as_user))

        pg = start(postgres.postgres_spec(profile, free_port(), user, session.service_dir("postgres")))
        cache = start(redis.redis_spec(profile, "redis", free_port(), session.service_dir("redis")))
        servers = {"infratests_proxy": None, **({"toxiproxy": profile.faults.server} if profile.faults.server else {})}
        pg_ports, redis_ports = {"direct": pg.endpoint.port}, {"direct": cache.endpoint.port}
        for column, server in servers.items():
            pg_proxy, redis_proxy = _listener(), _listener()
            start(faultproxy.faultproxy_spec(free_port(), {"postgres": (pg_proxy, pg.endpoint),
                                                           "redis": (redis_proxy, cache.endpoint)},
                                             session.service_dir(column), name=column, server=server))
            pg_ports[column], redis_ports[column] = pg_proxy.port, redis_proxy.port
        pg_ports["haproxy"] = start(_haproxy_spec(_listener(), pg.endpoint, session)).endpoint.port
        _pgbench(profile, pg.endpoint.port, ["-i", "-q", "-s", "1"])
        tps = [{name: _select_only_tps(profile, port, seconds) for name, port in pg_ports.items()}
               for _ in range(rounds)]
        rps = [{name: _redis_rps(port) for name, port in redis_ports.items() if name != "haproxy"}
               for _ in range(rounds)]
    return {
        "pgbench_select_only_tps": {name: _spread([run[name] for run in tps]) for name in pg_ports},
        "ratios": {ratio: _spread([round(run[top] / run[bottom], 3) for run in tps])
                   for ratio, top, bottom in _RATIOS if top in pg_ports and bottom in pg_ports},
        "redis_benchmark_rps": {name: {op: _spread([run[name][op] for run in rps]) for op in ("SET", "GET")}
                                for name in redis_ports},
        "settings": {"clients": 8, "threads": 2, "seconds": seconds, "rounds": rounds,
                     "toxiproxy": str(profile.faults.server) if profile.faults.server else None},
    }


def _spread(values: list[float]) -> Mapping[str, Any]:
    return {"min": min(values), "median": statistics.median(values), "max": max(values), "runs": values}


def _listener() -> Endpoint:
    port = free_port()
    return Endpoint(LOOPBACK, port, f"tcp://{LOOPBACK}:{port}")


def _haproxy_spec(listen: Endpoint, upstream: Endpoint, session: Session) -> ServiceSpec:
    binary = shutil.which("haproxy", path="/usr/sbin:/usr/bin")
    if binary is None:
        raise ConfigError("haproxy not found (the benchmark's reference point): "
                          "apt-get install -y haproxy", "haproxy")
    workdir = session.service_dir("haproxy")
    return ServiceSpec(
        name="haproxy", kind="haproxy", argv=(binary, "-db", "-f", str(workdir / "haproxy.cfg")),
        endpoint=listen, probe=tcp_probe(listen.host, listen.port),
        files={"haproxy.cfg": _HAPROXY_CFG.format(listen=listen.address, upstream=upstream.address)},
        stop_signal=signal.SIGTERM,
    )


def _pgbench(profile: Profile, port: int, args: list[str]) -> str:
    pg = profile.postgres
    binary = postgres.bindir(profile) / "pgbench"
    done = subprocess.run(
        [str(binary), "-h", LOOPBACK, "-p", str(port), "-U", pg.user, *args, pg.database],
        capture_output=True, text=True, env={**os.environ, "PGPASSWORD": pg.password}, timeout=600)
    if done.returncode != 0:
        raise ServiceError(f"pgbench {' '.join(args)} failed on port {port}: {done.stderr[-500:]}", "pgbench")
    return done.stdout


def _select_only_tps(profile: Profile, port: int, seconds: float) -> float:
    output = _pgbench(profile, port, ["-S", "-c", "8", "-j", "2", "-T", str(int(seconds))])
    found = re.search(r"tps = ([0-9.]+)", output)
    if found is None:
        raise ServiceError(f"pgbench printed no tps: {output[-500:]}", "pgbench")
    return round(float(found.group(1)), 1)


def _redis_rps(port: int) -> dict[str, float]:
    done = subprocess.run(["redis-benchmark", "-h", LOOPBACK, "-p", str(port), "-t", "get,set",
                           "-n", "100000", "-c", "20", "--csv"],
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise ServiceError(f"redis-benchmark failed on port {port}: {done.stderr[-500:]}", "redis-benchmark")
    rows = csv.reader(io.StringIO(done.stdout))
    return {row[0]: float(row[1]) for row in rows if row and row[0] in ("SET", "GET")}
