"""Per-test resets of shared state: a fresh database from the template, flushed Redis."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from contextlib import contextmanager

from infratests.stack.postgres import dsn, superuser_dsn
from infratests.stack.topology import Stack

__all__ = ["fresh_database", "flush_redis"]

_numbers = itertools.count(1)


@contextmanager
def fresh_database(stack: Stack) -> Iterator[str]:
    """Clone ``template1`` into a new database; yield the app user's direct DSN; drop it."""
    import psycopg

    pg = stack.profile.postgres
    endpoint = stack["postgres"].endpoint
    name = f"t_{os.getpid()}_{next(_numbers)}"
    with psycopg.connect(superuser_dsn(endpoint), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template1 OWNER "{pg.user}"')
    try:
        yield dsn(endpoint.port, pg.user, pg.password, name, endpoint.host)
    finally:
        with psycopg.connect(superuser_dsn(endpoint), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def flush_redis(stack: Stack) -> None:
    """FLUSHALL on every Redis node, directly (not through the fault proxy)."""
    import redis

    for service in stack:
        if service.kind == "redis":
            client = redis.Redis.from_url(service.endpoint.url, socket_timeout=2.0)
            try:
                client.flushall()
            finally:
                client.close()
