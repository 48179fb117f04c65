"""``infratests capacity`` on the stack it starts: progress while it starts, the limits lifted, the target.

All the load comes from one address, so every per-client limit the suite
knows of is lifted before the stack starts (the command line's overrides):
nginx's zones through ``nginx.rate_*`` and the app's own through the
profile's promises (``promises.health_rate_per_min``), which reach the app
only when it maps them (``app.promise_env``; the reference app does). The
report lists each one, lifted or kept.
"""

from __future__ import annotations

import shlex
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from infratests.config import Profile
from infratests.errors import ConfigError
from infratests.janitor import open_session
from infratests.load.capacity import say
from infratests.load.capacity_command import CapacityTarget, capacity_main
from infratests.stack.topology import Stack

__all__ = ["LIMIT_KEYS", "capacity_on_stack", "lifted_limits"]

#: Every per-client limit of the stack: nginx's zones, then the app's own (a promise).
LIMIT_KEYS = ("nginx.rate_auth_rps", "nginx.rate_webhook_rps", "nginx.rate_api_rps", "nginx.rate_api_burst",
              "promises.health_rate_per_min")


def _value(profile: Profile, key: str) -> Any:
    section, name = key.split(".")
    return getattr(getattr(profile, section), name)


def lifted_limits(before: Profile, after: Profile) -> list[str]:
    """One line per limit: its value before and after the capacity overrides, and who applies it."""
    lines = []
    for key in LIMIT_KEYS:
        old, new = _value(before, key), _value(after, key)
        change = f"{old} -> {new}" if old != new else f"kept at {new}"
        if key.startswith("nginx."):
            lines.append(f"{key}: {change} (nginx zone {key.split('_')[1]})")
            continue
        variable = after.promise_env().get(key.split(".")[1])
        who = f"reaches the app as {variable}" if variable else \
            "not passed to the app (app.promise_env does not map it): its own limit, if any, stays"
        lines.append(f"{key}: {change} ({who})")
    return lines


def capacity_on_stack(profile: Profile, backend: str, argv: Sequence[str], lifted: Sequence[str],
                      echo: Callable[[str], None] = say) -> int:
    """Start ``profile``'s stack (with progress), run the search on it (``argv``), tear it down.

    Never an environment the suite did not start (``--backend external``): its limits cannot be
    lifted, and loading it hard is the caller's decision, made with ``--host``.
    """
    if backend == "external":
        raise ConfigError("capacity loads the stack hard and lifts its per-client limits: point it at an "
                          "environment the suite did not start with --host URL (its limits stay)", "backend")
    for line in lifted:
        echo(f"capacity: per-client limit {line}")
    session = open_session()
    try:
        with _started(Stack(profile, session, backend), echo) as stack:
            pgbouncer = stack.services.get("pgbouncer")
            target = CapacityTarget(
                stack.url, stack.tls.ca, profile.app.ready_path, stack.health_secret,
                pgbouncer.endpoint.extra.get("admin") if pgbouncer else None, session.id,
                {"lifted": list(lifted), "profile": _profile_facts(profile, stack)})
            return capacity_main(argv, target, echo)
    finally:
        session.close()


@contextmanager
def _started(stack: Stack, echo: Callable[[str], None]) -> Iterator[Stack]:
    """Enter ``stack``, printing each service as it becomes ready."""
    echo(f"capacity: starting the stack ({stack.backend} backend): {', '.join(s.name for s in stack)}")
    done = threading.Event()
    watcher = threading.Thread(target=_watch, args=(stack, done, echo), name="stack-progress", daemon=True)
    watcher.start()
    try:
        with stack:
            done.set()
            watcher.join()
            echo(f"capacity: stack ready in {stack.ready_times.get('total', 0):g} s at {stack.url}")
            for line in stack.drift:
                echo(f"capacity: effective configuration differs from the profile: {line}")
            yield stack
    finally:
        done.set()


def _watch(stack: Stack, done: threading.Event, echo: Callable[[str], None]) -> None:
    shown: set[str] = set()
    while True:
        finished = done.wait(0.1)
        for name, seconds in sorted(dict(stack.ready_times).items(), key=lambda item: item[1]):
            if name != "total" and name not in shown:
                shown.add(name)
                echo(f"  {name} ready ({seconds:g} s)")
        if finished:
            return


def _profile_facts(profile: Profile, stack: Stack) -> dict[str, Any]:
    """What was measured, without a secret: the app, its replicas, pools, nginx, the backend."""
    return {"source": profile.source, "backend": stack.backend,
            "app": shlex.join(profile.app.command) if profile.app.command else "the reference app",
            "replicas": profile.app.replicas,
            "ready_path": profile.app.ready_path, "app pool (promises.pool_max)": profile.promises.pool_max,
            "pgbouncer": f"{profile.pgbouncer.pool_mode} pooling, default_pool_size "
                         f"{profile.pgbouncer.default_pool_size}, max_client_conn {profile.pgbouncer.max_client_conn}",
            "postgres.max_connections": profile.postgres.max_connections,
            "nginx.keepalive": profile.nginx.keepalive, "fault proxy": profile.faults.proxy}
