"""``infratests doctor``: is this machine able to run the suite, and how to fix what is missing."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from infratests.config import Profile
from infratests.errors import InfratestsError
from infratests.session import runtime_root
from infratests.stack import nginx, pgbouncer, postgres, redis
from infratests.stack.local import unprivileged_user

__all__ = ["Check", "diagnose"]

_APT = "apt-get update && apt-get install -y"


@dataclass(frozen=True)
class Check:
    what: str
    ok: bool
    detail: str
    required: bool = True


def diagnose(profile: Profile) -> Iterator[Check]:
    """Every check, in order: servers, tools, user, runtime dir, Python packages, Docker."""
    servers: list[tuple[str, Callable[[], Path], str]] = [
        ("postgres", lambda: postgres.bindir(profile) / "postgres", "--version"),
        ("pgbouncer", lambda: pgbouncer.binary(profile), "--version"),
        ("redis-server", lambda: redis.binary(profile), "--version"),
        ("nginx", lambda: nginx.binary(profile), "-v"),
    ]
    for name, locate, flag in servers:
        yield _binary_check(name, locate, flag)
    for tool, package in (("haproxy", "haproxy"), ("wrk", "wrk"), ("pgbench", "postgresql-15")):
        found = shutil.which(tool, path=f"/usr/sbin:/usr/bin:{_postgres_bindir(profile)}")
        yield Check(tool, bool(found), found or f"missing (benchmarks only): {_APT} {package}", False)
    yield _user_check(profile)
    yield _app_check(profile)
    yield _runtime_check()
    for module in ("psycopg", "psycopg_pool", "redis", "httpx", "toxiproxy", "locust", "testcontainers"):
        importable = importlib.util.find_spec(module) is not None
        yield Check(f"python: {module}", importable, "importable" if importable else "pip install -e . (see README)")
    yield _docker_check(profile)


def _postgres_bindir(profile: Profile) -> str:
    try:
        return str(postgres.bindir(profile))
    except InfratestsError:
        return ""


def _binary_check(name: str, locate: Callable[[], Path], flag: str) -> Check:
    try:
        binary = locate()
    except InfratestsError as error:
        return Check(name, False, str(error))
    done = subprocess.run([str(binary), flag], capture_output=True, text=True, timeout=10)
    version = (done.stdout or done.stderr).strip().splitlines()[0] if done.returncode == 0 else ""
    return Check(name, bool(version), version or f"{binary} {flag} failed: {done.stderr.strip()}")


def _user_check(profile: Profile) -> Check:
    try:
        user = unprivileged_user(profile.run_as)
    except InfratestsError as error:
        return Check("unprivileged user", False, str(error))
    return Check("unprivileged user", True, f"servers run as {user or 'the current user'}")


def _app_check(profile: Profile) -> Check:
    from infratests.stack.app import check_app_command

    try:
        check_app_command(profile)
    except InfratestsError as error:
        return Check("app command", False, str(error))
    command = " ".join(profile.app_command()) if profile.app.command else "the reference app"
    return Check("app command", True, f"{command} in {profile.app_cwd()}")


def _runtime_check() -> Check:
    root = runtime_root()
    parent = root if root.exists() else root.parent
    ok = os.access(parent, os.W_OK)
    return Check("runtime dir", ok, str(root) if ok else f"{parent} is not writable: set INFRATESTS_RUNDIR")


def _docker_check(profile: Profile) -> Check:
    if importlib.util.find_spec("docker") is None:
        return Check("docker", False, "no Docker SDK (container backend only): pip install -e .", False)
    from infratests.stack.docker.choose import image_plan
    from infratests.stack.docker.client import docker_client
    from infratests.stack.docker.images import missing_images
    from infratests.stack.docker.network import choose_network

    client, why = docker_client()
    if client is None:
        return Check("docker", False, f"{why} (container backend only): run scripts/docker-setup, or "
                     "`dockerd --bridge=none --iptables=false &` where no registry exists", False)
    try:
        plan = image_plan(profile, client)
        mode, how = choose_network(profile.docker.network)
    except InfratestsError as error:
        return Check("docker", False, f"{why}; {error}", False)
    absent = missing_images(client, plan.images)
    images = (f"images missing: {', '.join(absent)} (run `infratests images build`)" if absent
              else f"{plan.source} images present")
    return Check("docker", not absent, f"{why}; {images}; network {mode}: {how}", False)
