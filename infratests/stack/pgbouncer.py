"""PgBouncer 1.18 in front of Postgres: transaction pooling, admin console for SHOW POOLS.

Graceful stop is SIGTERM (immediate shutdown in 1.18; SIGINT would wait for
every client). Readiness is ``SHOW VERSION`` on the admin console, which does
not need Postgres to be up.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

from infratests.config import Profile
from infratests.errors import UnsupportedOperation
from infratests.stack.ports import LOOPBACK
from infratests.stack.postgres import dsn
from infratests.stack.runtime import ON_HOST, Runtime
from infratests.stack.service import Endpoint, Probe, ServiceSpec
from infratests.stack.templates import render

__all__ = ["clients", "pools", "pgbouncer_spec", "binary", "show"]


def binary(profile: Profile, runtime: Runtime = ON_HOST) -> Path:
    return runtime.binary(profile.binaries.pgbouncer, "pgbouncer", "pgbouncer", "pgbouncer", "/usr/sbin/pgbouncer")


def show(endpoint: Endpoint, what: str) -> list[dict[str, Any]]:
    """``SHOW <what>`` on the admin console (``endpoint.extra["admin"]``: ``CLIENTS``, ``POOLS``,
    ``CONFIG``...), one dict per row."""
    import psycopg

    # The console speaks only the simple query protocol: ClientCursor uses it.
    if "admin" not in endpoint.extra:
        raise UnsupportedOperation("PgBouncer's admin console is not named (external.pgbouncer_admin_dsn)",
                                   "pgbouncer")
    with psycopg.connect(endpoint.extra["admin"], autocommit=True, cursor_factory=psycopg.ClientCursor,
                         connect_timeout=5) as console:
        cursor = console.execute(f"SHOW {what}")
        names = [column.name for column in cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def clients(endpoint: Endpoint, database: str | None = None,
            application_name: str | None = None) -> list[dict[str, Any]]:
    """PgBouncer's client connections (``SHOW CLIENTS``), of ``database`` / ``application_name`` when
    given; the console's own connection is one of them when neither filters it out."""
    return [row for row in show(endpoint, "CLIENTS")
            if (database is None or row["database"] == database)
            and (application_name is None or row["application_name"] == application_name)]


def pools(endpoint: Endpoint, database: str | None = None) -> list[dict[str, Any]]:
    """PgBouncer's pools (``SHOW POOLS``: ``cl_active``, ``cl_waiting``, ``sv_active``, ``sv_idle``,
    ``maxwait``...), of ``database`` when given."""
    return [row for row in show(endpoint, "POOLS") if database is None or row["database"] == database]


def pgbouncer_spec(profile: Profile, port: int, server: Endpoint, workdir: Path,
                   name: str = "pgbouncer", runtime: Runtime = ON_HOST) -> ServiceSpec:
    """PgBouncer on ``runtime.bind``:``port`` (reached at 127.0.0.1) routing every database to ``server``."""
    import psycopg

    config, pg = profile.pgbouncer, profile.postgres
    endpoint = Endpoint(LOOPBACK, port, dsn(port, pg.user, pg.password, pg.database),
                        {"admin": dsn(port, pg.user, pg.password, "pgbouncer")})
    ini = render("pgbouncer.ini.j2", config.template, {
        "name": name, "host": runtime.bind, "port": port, "workdir": str(workdir),
        "server_host": server.host, "server_port": server.port, "user": pg.user,
        "pool_mode": config.pool_mode, "default_pool_size": config.default_pool_size,
        "reserve_pool_size": config.reserve_pool_size, "max_client_conn": config.max_client_conn,
    }, "pgbouncer.template")
    userlist = f'"{pg.user}" "{pg.password}"\n'
    return ServiceSpec(
        name=name, kind="pgbouncer",
        argv=(str(binary(profile, runtime)), str(workdir / "pgbouncer.ini")),
        endpoint=endpoint, probe=_admin_probe(endpoint.extra["admin"]),
        files={"pgbouncer.ini": ini, "userlist.txt": userlist},
        stop_signal=signal.SIGTERM, transient=(OSError, psycopg.OperationalError),
    )


def _admin_probe(admin: str) -> Probe:
    def probe() -> None:
        import psycopg
        # The admin console speaks only the simple query protocol: ClientCursor uses it.
        with psycopg.connect(admin, connect_timeout=2, autocommit=True,
                             cursor_factory=psycopg.ClientCursor) as conn:
            conn.execute("SHOW VERSION")
    return probe
