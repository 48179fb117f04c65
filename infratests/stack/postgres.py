"""PostgreSQL 15: a cached initdb template copied per stack, config rendered, SQL readiness.

initdb runs once per machine and configuration (~0.5 s) with the binaries the
server will run (this machine's, or its image's in a container); each stack
copies the cached data directory (~0.05 s) and starts on it. The template holds the app
role and its database; per-test databases are cloned from ``template1``. Graceful stop is SIGINT (fast shutdown).
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import signal
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from infratests.config import Profile
from infratests.errors import ConfigError, ServiceError
from infratests.stack.ports import LOOPBACK
from infratests.stack.readiness import sql_probe
from infratests.stack.runtime import ON_HOST, Runtime
from infratests.stack.service import Endpoint, ServiceSpec
from infratests.stack.templates import render

__all__ = ["SUPERUSER", "SUPERUSER_PASSWORD", "bindir", "postgres_spec", "superuser_dsn", "dsn"]

_Runner = Callable[..., str]  # (argv, build_dir, stdin=None) -> output; raises ServiceError on failure

SUPERUSER = "postgres"
_IMAGE_BINDIR = Path("/usr/lib/postgresql/15/bin")
SUPERUSER_PASSWORD = "postgres-secret"


def bindir(profile: Profile, runtime: Runtime = ON_HOST) -> Path:
    """The directory of initdb/postgres/pg_dump: the profile's, else the newest installed (in a
    container: the image's, at Debian's path, which the official image shares)."""
    if not runtime.on_host:
        return profile.binaries.postgres_bindir or _IMAGE_BINDIR
    if profile.binaries.postgres_bindir is not None:
        found = profile.binaries.postgres_bindir
    else:
        candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
        found = candidates[-1] if candidates else Path("/nonexistent")
    if not (found / "postgres").is_file():
        raise ConfigError(f"binaries.postgres_bindir: no postgres server in {found}; install it "
                          "(apt-get install -y postgresql-15) or set binaries.postgres_bindir",
                          "binaries.postgres_bindir")
    return found


def dsn(port: int, user: str, password: str, database: str, host: str = LOOPBACK) -> str:
    return f"postgresql://{user}:{password}@{host}:{port}/{database}"


def superuser_dsn(endpoint: Endpoint, database: str = "postgres") -> str:
    return dsn(endpoint.port, SUPERUSER, SUPERUSER_PASSWORD, database, endpoint.host)


def postgres_spec(profile: Profile, port: int, user: str | None, workdir: Path,
                  name: str = "postgres", runtime: Runtime = ON_HOST) -> ServiceSpec:
    """The Postgres service of a stack on ``runtime.bind``:``port``, reached at 127.0.0.1:``port``."""
    import psycopg

    config = profile.postgres
    binaries = bindir(profile, runtime)
    endpoint = Endpoint(LOOPBACK, port, dsn(port, config.user, config.password, config.database))

    def prepare(into: Path) -> None:
        shutil.copytree(_cached_template(profile, binaries, user, runtime), into / "data", symlinks=True)

    conf = render("postgresql.conf.j2", config.template, {
        "name": name, "host": runtime.bind, "port": port, "socket_dir": str(workdir),
        "max_connections": config.max_connections,
        "superuser_reserved_connections": config.superuser_reserved_connections,
        "settings": config.settings, "workdir": str(workdir),
    }, "postgres.template")

    return ServiceSpec(
        name=name, kind="postgres",
        argv=(str(binaries / "postgres"), "-D", str(workdir / "data"),
              "-c", f"config_file={workdir / 'postgresql.conf'}"),
        endpoint=endpoint, probe=sql_probe(superuser_dsn(endpoint)),
        files={"postgresql.conf": conf, "pg_hba.conf": _hba(runtime.bind)},
        prepare=prepare, stop_signal=signal.SIGINT,
        transient=(OSError, psycopg.OperationalError),
    )


def _hba(bind: str) -> str:
    """Socket clients trusted, TCP clients by password; from any address only when bound to all
    (inside a container pod, reached only through ports published on the host's loopback)."""
    sources = ["127.0.0.1/32", "::1/128"] if bind == LOOPBACK else ["0.0.0.0/0", "::/0"]
    return "local all all trust\n" + "".join(f"host all all {s} scram-sha-256\n" for s in sources)


def _cache_root() -> Path:
    return Path(os.environ.get("INFRATESTS_CACHE", Path.home() / ".cache" / "infratests"))


def _cached_template(profile: Profile, binaries: Path, user: str | None, runtime: Runtime) -> Path:
    config = profile.postgres
    if runtime.oneoff is None:
        version = subprocess.run([binaries / "postgres", "--version"], capture_output=True,
                                 text=True, check=True).stdout.strip()
        run: _Runner = functools.partial(_run, user=user)
    else:
        image = runtime.oneoff("postgres")
        version = f"{image.image_id()}|{binaries}"
        run = functools.partial(image.run, user=user)
    key = hashlib.sha256(f"{version}|{config.user}|{config.password}|{config.database}|{user}"
                         .encode()).hexdigest()[:16]
    target = _cache_root() / f"pgdata-{key}"
    if not target.is_dir():
        _build_template(profile, binaries, user, target, run)
    return target


def _build_template(profile: Profile, binaries: Path, user: str | None, target: Path, run: _Runner) -> None:
    config = profile.postgres
    build = Path(tempfile.mkdtemp(prefix="infratests-initdb-"))
    try:
        data = build / "data"
        (build / "pw").write_text(SUPERUSER_PASSWORD + "\n")
        if user:
            shutil.chown(build, user)
            shutil.chown(build / "pw", user)
        run([binaries / "initdb", "-D", data, "-U", SUPERUSER, "--pwfile", build / "pw",
             "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8",
             "--locale=C", "--no-sync", "--no-instructions", "--wal-segsize=1"], build)
        password = config.password.replace("'", "''")
        script = (f'CREATE ROLE "{config.user}" LOGIN PASSWORD \'{password}\';\n'
                  f'CREATE DATABASE "{config.database}" OWNER "{config.user}";\n')
        output = run([binaries / "postgres", "--single", "-D", data, "-F", "-c", "exit_on_error=true",
                      "postgres"], build, stdin=script)
        if "ERROR" in output:
            raise ServiceError(f"building the Postgres template failed: {output[-2000:]}", "postgres")
        target.parent.mkdir(parents=True, exist_ok=True)
        staged = target.parent / f".{target.name}-{uuid.uuid4().hex[:6]}"
        shutil.move(data, staged)
        try:
            staged.rename(target)
        except OSError:  # another run cached it first
            shutil.rmtree(staged, ignore_errors=True)
    finally:
        shutil.rmtree(build, ignore_errors=True)


def _run(argv: Sequence[object], build: Path, stdin: str | None = None, *, user: str | None) -> str:
    """``argv`` on this machine as ``user``; its output (a failure raises with the output)."""
    done = subprocess.run([str(arg) for arg in argv], input=stdin, capture_output=True, text=True,
                          user=user, cwd="/")
    if done.returncode != 0:
        raise ServiceError(f"building the Postgres template failed: {argv[0]} exited "
                           f"{done.returncode}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}", "postgres")
    return done.stdout
