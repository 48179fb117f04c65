"""The app tier: N replicas of the profile's app command, and the external dependency.

Each replica gets the app contract's environment (docs/app-contract.md):
HOST, PORT, INSTANCE, DATABASE_URL (through PgBouncer), REDIS_URL,
REDIS_LOCK_URLS, DEPENDENCY_URL, HEALTH_SECRET, the app-side promises under
the app's own names, then ``app.env`` (which wins). Readiness is an HTTP GET of
the profile's ``app.ready_path``. Apps run as the invoking user (their
interpreter may live in a home directory others cannot enter) in the
profile's folder, unless ``app.run_as`` / ``app.cwd`` say otherwise; before
anything starts, :func:`check_app_command` makes sure that user can run it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from infratests.config import Profile
from infratests.errors import ConfigError
from infratests.stack.ports import LOOPBACK
from infratests.stack.readiness import http_probe
from infratests.stack.runtime import ON_HOST, Runtime
from infratests.stack.service import Endpoint, ServiceSpec

__all__ = ["app_spec", "app_user", "check_app_command", "dependency_spec", "replica_names", "HEALTH_SECRET_ENV"]

HEALTH_SECRET_ENV = "HEALTH_SECRET"


def replica_names(profile: Profile) -> list[str]:
    return [f"app-{index}" for index in range(1, profile.app.replicas + 1)]


def app_spec(profile: Profile, name: str, port: int, links: Mapping[str, str],
             workdir: Path, runtime: Runtime = ON_HOST) -> ServiceSpec:
    """One replica on ``runtime.bind``:``port``; ``links`` holds the contract's URL variables, already wired
    through proxies."""
    env = {"HOST": runtime.bind, "PORT": str(port), "INSTANCE": name,
           **profile.promises_for_app(), **links, **profile.app.env}
    base = f"http://{LOOPBACK}:{port}"
    return ServiceSpec(
        name=name, kind="app", argv=profile.app_command(),
        endpoint=Endpoint(LOOPBACK, port, base), env=env,
        probe=http_probe(base + profile.app.ready_path),
        stop_signal=signal.SIGTERM, privileged_ok=True, user=app_user(profile),
        cwd=profile.app_cwd() if profile.app.command else None,
        ready_hint=f"waiting for GET {profile.app.ready_path} (app.ready_path) to answer 200",
    )


def app_user(profile: Profile) -> str | None:
    """The user the app runs as: ``app.run_as`` (needs root), else None (the invoking user)."""
    run_as = profile.app.run_as
    if not run_as:
        return None
    if os.geteuid() != 0:
        raise ConfigError(f"app.run_as = {run_as!r} ({profile.source}): only root can run the app as "
                          "another user; remove app.run_as (the app then runs as you)", "app.run_as")
    try:
        pwd.getpwnam(run_as)
    except KeyError:
        raise ConfigError(f"app.run_as = {run_as!r} ({profile.source}): no such user; create it or "
                          "remove app.run_as", "app.run_as") from None
    return run_as


def check_app_command(profile: Profile) -> None:
    """Before anything starts: the app's folder exists, its program exists, and the user the app
    runs as may enter the folder and execute the program. One :class:`ConfigError` naming the key."""
    if not profile.app.command:
        return  # the reference app: our own interpreter
    cwd, user = profile.app_cwd(), app_user(profile)
    if not cwd.is_dir():
        raise ConfigError(f"app.cwd: {cwd} is not a folder ({profile.source}): fix app.cwd", "app.cwd")
    program = profile.app.command[0]
    search = {**os.environ, **profile.app.env}.get("PATH", os.defpath)
    found = str(cwd / program) if "/" in program else shutil.which(program, path=search)
    if found is None or not os.path.isfile(found):
        raise ConfigError(f"app.command: {program!r} not found ({'in ' + str(cwd) if '/' in program else 'on PATH'})"
                          f" ({profile.source}): install it or fix app.command", "app.command")
    if not _may(user, "-x", cwd) or not _may(user, "-x", Path(found)):
        who = f"user {user} (app.run_as)" if user else "you"
        raise ConfigError(f"app.command: {found} in {cwd} is not executable by {who} ({profile.source}): "
                          "remove app.run_as to run the app as yourself, or make it executable for that user",
                          "app.command")


def _may(user: str | None, test: str, path: Path) -> bool:
    """``test -x path`` as ``user`` (None: this process)."""
    if user is None:
        return os.access(path, os.X_OK)
    return subprocess.run(["test", test, str(path)], user=user, check=False).returncode == 0


def dependency_spec(port: int, workdir: Path, name: str = "dependency", runtime: Runtime = ON_HOST) -> ServiceSpec:
    """The external HTTP dependency the breaker guards (``GET /quote``)."""
    base = f"http://{LOOPBACK}:{port}"
    return ServiceSpec(
        name=name, kind="dependency",
        argv=(sys.executable, "-m", "infratests.refapp.dependency"),
        endpoint=Endpoint(LOOPBACK, port, base), env={"HOST": runtime.bind, "PORT": str(port)},
        probe=http_probe(base + "/health"), stop_signal=signal.SIGTERM, privileged_ok=True,
    )
