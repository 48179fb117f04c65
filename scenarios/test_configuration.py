"""The running servers' configuration keeps the promises, read-only: what a pre-deploy check asks of a
live environment (C-POOL-1, C-POOL-2, C-RD-2, C-BK-5, C-NGX-8).

Every value is the one the server actually uses (``infratests.stack.effective``),
held to the profile's ``[promises]``, and the failure shows promise,
configuration and effective value side by side. Nothing here writes, loads or
faults anything, so it runs on a stack the suite starts and, with
``--infratests-backend external``, on staging before a deploy.
"""

from __future__ import annotations

import socket

import psycopg
import pytest

from infratests.checks.promises import SERVER_RULES, Setting, pool_math
from infratests.stack.effective import broken_promise, read_effective
from infratests.stack.topology import Stack

pytestmark = [pytest.mark.gate, pytest.mark.live_safe]

_CLAIMS = ("C-POOL-2", "C-RD-2", "C-BK-5")


def _effective(stack: Stack, keys: list[str]) -> dict[str, Setting]:
    found = read_effective(stack)
    missing = [key for key in keys if key not in found]
    if missing:
        pytest.skip(f"the environment does not let the suite read {', '.join(missing)} (name its servers in "
                    "[external], with a role that may read their settings)")
    return found


@pytest.mark.parametrize("claim", _CLAIMS)
def test_the_servers_settings_keep_the_promises(stack: Stack, claim: str) -> None:
    """C-POOL-2, C-RD-2, C-BK-5: PgBouncer's limits, the cache's eviction policy and Redis' persistence,
    as the running servers report them, keep what the team promised."""
    effective = _effective(stack, [rule.key for rule in SERVER_RULES if rule.claim == claim])
    broken = [found for rule in SERVER_RULES
              if rule.claim == claim and (found := broken_promise(stack, rule.key, effective))]
    assert not broken, f"{claim} violated: " + "; ".join(broken)


def test_pool_math_fits_on_the_running_servers(stack: Stack) -> None:
    """C-POOL-1: the promised app pools (replicas x pool_max) fit PgBouncer's client limit, PgBouncer's
    server pool fits Postgres' max_connections less the reserved ones, and the client backends Postgres
    has now stay within that budget; all read from the running servers."""
    effective = _effective(stack, ["postgres.max_connections", "postgres.superuser_reserved_connections",
                                   "pgbouncer.default_pool_size", "pgbouncer.reserve_pool_size",
                                   "pgbouncer.max_client_conn"])
    replicas = len([s for s in stack if s.kind == "app"]) or stack.profile.app.replicas
    pool_max = stack.profile.promises.pool_max
    problems = [finding.message for finding in pool_math(effective, replicas, pool_max,
                                                         f"promises.pool_max {pool_max}")]
    budget = effective["postgres.max_connections"].value - effective["postgres.superuser_reserved_connections"].value
    with psycopg.connect(stack.admin_dsn, autocommit=True, connect_timeout=5) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'").fetchone()
    backends = int(row[0]) if row else 0
    if backends > budget:
        problems.append(f"Postgres has {backends} client backends now > its budget {budget}")
    print(f"C-POOL-1: budget {budget}, app side {replicas} x {pool_max}, client backends now {backends}")
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
