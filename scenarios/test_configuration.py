"""The running servers' configuration keeps the promises, read-only: what a pre-deploy check asks of a
live environment (C-POOL-1, C-POOL-2, C-RD-2, C-BK-5, C-NGX-8).

Every value is the one the server actually uses (``infratests.stack.effective``),
held to the profile's ``[promises]``, and the failure shows promise,
configuration and effective value side by side. Nothing here writes, loads or
faults anything, so it runs on a stack the suite starts and, with
``--infratests-backend external``, on staging before a deploy.
"""

from __future__ import annotations

import operator
import socket
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from infratests.stack.effective import Setting, broken_promise, read_effective
from infratests.stack.topology import Stack

pytestmark = [pytest.mark.gate, pytest.mark.live_safe]

_DURABILITY = {"no": 0, "everysec": 1, "always": 2}
# claim -> (promise, effective key, kept(promised, effective)) for each value it is held to
_HELD: dict[str, list[tuple[str, str, Callable[[Any, Any], bool]]]] = {
    "C-POOL-2": [("max_client_conn", "pgbouncer.max_client_conn", operator.le),
                 ("default_pool_size", "pgbouncer.default_pool_size", operator.ge)],
    "C-RD-2": [("redis_maxmemory_policy", "redis.maxmemory_policy", operator.eq)],
    "C-BK-5": [("redis_appendonly", "redis.appendonly", lambda promised, running: running or not promised),
               ("redis_appendfsync", "redis.appendfsync",
                lambda promised, running: _DURABILITY[running] >= _DURABILITY[promised])],
}


def _effective(stack: Stack, keys: list[str]) -> dict[str, Setting]:
    found = read_effective(stack)
    missing = [key for key in keys if key not in found]
    if missing:
        pytest.skip(f"the environment does not let the suite read {', '.join(missing)} (name its servers in "
                    "[external], with a role that may read their settings)")
    return found


@pytest.mark.parametrize("claim", list(_HELD))
def test_the_servers_settings_keep_the_promises(stack: Stack, claim: str) -> None:
    """C-POOL-2, C-RD-2, C-BK-5: PgBouncer's limits, the cache's eviction policy and Redis' persistence,
    as the running servers report them, keep what the team promised."""
    effective = _effective(stack, [key for _, key, _ in _HELD[claim]])
    broken = [found for promise, key, kept in _HELD[claim]
              if (found := broken_promise(stack, promise, key, kept, effective))]
    assert not broken, f"{claim} violated: " + "; ".join(broken)


def test_pool_math_fits_on_the_running_servers(stack: Stack) -> None:
    """C-POOL-1: the promised app pools (replicas x pool_max) fit PgBouncer's client limit, PgBouncer's
    server pool fits Postgres' max_connections less the reserved ones, and the client backends Postgres
    has now stay within that budget; all read from the running servers."""
    keys = ["postgres.max_connections", "postgres.superuser_reserved_connections", "pgbouncer.default_pool_size",
            "pgbouncer.reserve_pool_size", "pgbouncer.max_client_conn"]
    value = {key: setting.value for key, setting in _effective(stack, keys).items()}
    budget = value["postgres.max_connections"] - value["postgres.superuser_reserved_connections"]
    server_side = value["pgbouncer.default_pool_size"] + value["pgbouncer.reserve_pool_size"]
    replicas = len([s for s in stack if s.kind == "app"]) or stack.profile.app.replicas
    app_side = replicas * stack.profile.promises.pool_max
    with psycopg.connect(stack.admin_dsn, autocommit=True, connect_timeout=5) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'").fetchone()
    backends = int(row[0]) if row else 0
    problems = []
    if server_side > budget:
        problems.append(f"PgBouncer may open {server_side} server connections; Postgres allows {budget}")
    if app_side > value["pgbouncer.max_client_conn"]:
        problems.append(f"{replicas} replicas x promised pool_max {stack.profile.promises.pool_max} = {app_side} > "
                        f"PgBouncer max_client_conn {value['pgbouncer.max_client_conn']}")
    if backends > budget:
        problems.append(f"Postgres has {backends} client backends now > its budget {budget}")
    print(f"C-POOL-1: budget {budget}, PgBouncer server side {server_side}, app side {app_side}, "
          f"client backends now {backends}")
    assert not problems, "C-POOL-1 violated: " + "; ".join(problems)


def test_internal_ports_are_not_reachable_from_the_public_side(stack: Stack) -> None:
    """C-NGX-8: only the proxy faces the public: none of the ports ``external.internal_ports`` names (the
    app, Postgres, PgBouncer, Redis) accepts a connection on the public host."""
    if not stack.external:
        pytest.skip("a stack the suite starts runs every server on one loopback host: exposure is judged on a "
                    "real environment (--infratests-backend external, external.internal_ports)")
    ports = stack.profile.external.internal_ports
    if not ports:
        pytest.skip("name the ports that must not face the public in external.internal_ports")
    host = stack["nginx"].endpoint.host
    reachable = [port for port in ports if _accepts(host, port)]
    assert not reachable, (f"C-NGX-8 violated: on the public host {host}, internal ports {reachable} accept "
                           "connections; only the proxy's may")


def _accepts(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=3.0).close()
    except OSError:
        return False
    return True
