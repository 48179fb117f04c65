"""Fresh servers built by the stack's own service modules on new ports: restore targets, crash subjects."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from contextlib import contextmanager

from infratests.config import Profile
from infratests.stack import backends
from infratests.stack.local import unprivileged_user
from infratests.stack.placement import Placement
from infratests.stack.ports import free_port
from infratests.stack.postgres import postgres_spec
from infratests.stack.redis import redis_spec
from infratests.stack.service import Service, ServiceSpec
from infratests.stack.topology import Stack

__all__ = ["scratch_postgres", "scratch_redis"]

_numbers = itertools.count(1)


@contextmanager
def scratch_postgres(stack: Stack) -> Iterator[Service]:
    """A new Postgres built from ``stack``'s profile and backend (empty app database); stopped on exit.

    Its ``endpoint.url`` is the app user's DSN, the restore target.
    """
    profile = stack.profile
    name = f"postgres-restore-{os.getpid()}-{next(_numbers)}"
    user = unprivileged_user(profile.run_as)
    placement = backends.resolve(stack.backend, profile, stack.session)
    spec = postgres_spec(profile, free_port(), user, stack.session.service_dir(name), name=name,
                         runtime=placement.runtime)
    with _running(stack, placement, spec, user) as service:
        yield service


@contextmanager
def scratch_redis(stack: Stack, profile: Profile | None = None) -> Iterator[Service]:
    """A new Redis node with ``stack``'s profile (appendonly, appendfsync, maxmemory...) or a variant of
    it; stopped on exit."""
    profile = profile or stack.profile
    name = f"redis-scratch-{os.getpid()}-{next(_numbers)}"
    placement = backends.resolve(stack.backend, profile, stack.session)
    spec = redis_spec(profile, name, free_port(), stack.session.service_dir(name), runtime=placement.runtime)
    with _running(stack, placement, spec, unprivileged_user(profile.run_as)) as service:
        yield service


@contextmanager
def _running(stack: Stack, placement: Placement, spec: ServiceSpec,
             user: str | None) -> Iterator[Service]:
    """``spec`` on the stack's backend, in a network of its own (a pod publishes only its port)."""
    service = placement.run(spec, stack.session, user, stack.profile.startup_timeout_s)
    try:
        placement.network.up([spec.endpoint.port])
        service.start()
        yield service
    finally:
        service.stop(graceful=False)
        placement.network.down()
