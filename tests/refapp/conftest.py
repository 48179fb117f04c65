"""Minimal real backends for the refapp tests: Postgres 15 + PgBouncer (transaction mode), Redis nodes.

Postgres and PgBouncer refuse root, so they run as the ``postgres`` OS user with
data and sockets under a short /tmp dir. The lead's stack fixtures may replace these.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

PG_BIN = Path("/usr/lib/postgresql/15/bin")
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(probe: Callable[[], bool], timeout: float, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if probe():
                return
        time.sleep(0.02)
    tail = log.read_text()[-3000:] if log and log.exists() else ""
    raise TimeoutError(f"{what} not ready after {timeout}s\n{tail}")


def _stop(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 10) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def _tcp_open(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True


@pytest.fixture(scope="session")
def tmp_short() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="rfa-", dir="/tmp"))
    shutil.chown(path, "postgres", "postgres")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def redis_server(workdir: Path, port: int | None = None) -> Iterator[tuple[int, subprocess.Popen]]:
    """One throwaway Redis on 127.0.0.1:``port`` (default: a free one), no persistence."""
    port = port or free_port()
    log = workdir / f"redis-{port}.log"
    proc = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait(lambda: _tcp_open(port), 10, "redis", log)
        yield port, proc
    finally:
        _stop(proc)


@pytest.fixture(scope="session")
def spawn_redis(tmp_short: Path) -> Callable[[], contextlib.AbstractContextManager]:
    """Factory: ``with spawn_redis(port=None) as (port, proc):`` a fresh Redis node a test may stop."""
    return lambda port=None: redis_server(tmp_short, port)


@pytest.fixture(scope="session")
def unused_port() -> Callable[[], int]:
    """Factory of free 127.0.0.1 ports (nothing listens there)."""
    return free_port


@pytest.fixture(scope="session")
def local_redis(tmp_short: Path) -> Iterator[list[int]]:
    """Four Redis ports: [cache, lock1, lock2, lock3]."""
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(redis_server(tmp_short))[0] for _ in range(4)]


def _as_postgres(cmd: list[str], log: Path, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        cmd,
        user="postgres",
        stdout=log.open("a"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd="/tmp",
        **kw,
    )


@pytest.fixture(scope="session")
def local_pg(tmp_short: Path) -> Iterator[dict[str, int]]:
    """Postgres 15 and PgBouncer (pool_mode=transaction) in front: {"pg": port, "bouncer": port}."""
    data, log = tmp_short / "pg", tmp_short / "pg.log"
    subprocess.run(
        [str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync"],
        user="postgres",
        check=True,
        capture_output=True,
        cwd="/tmp",
    )
    pg_port, bouncer_port = free_port(), free_port()
    pg = _as_postgres(
        [
            str(PG_BIN / "postgres"),
            "-D",
            str(data),
            "-k",
            str(tmp_short),
            "-h",
            "127.0.0.1",
            "-p",
            str(pg_port),
            "-c",
            "fsync=off",
            "-c",
            "max_connections=100",
        ],
        log,
    )
    bouncer = None
    try:
        _wait(lambda: _pg_ready(pg_port), 20, "postgres", log)
        bouncer = _start_bouncer(tmp_short, pg_port, bouncer_port)
        _wait(lambda: _pg_ready(bouncer_port), 20, "pgbouncer", tmp_short / "bouncer.log")
        yield {"pg": pg_port, "bouncer": bouncer_port}
    finally:
        if bouncer is not None:
            _stop(bouncer)
        _stop(pg, signal.SIGINT)


def _pg_ready(port: int) -> bool:
    import psycopg

    with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres", connect_timeout=1) as conn:
        conn.execute("select 1")
    return True


def _start_bouncer(workdir: Path, pg_port: int, port: int) -> subprocess.Popen:
    ini = workdir / "pgbouncer.ini"
    ini.write_text(
        f"[databases]\npostgres = host=127.0.0.1 port={pg_port} dbname=postgres\n"
        f"[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        "auth_type = trust\nauth_file = {auth}\npool_mode = transaction\ndefault_pool_size = 10\n"
        "max_client_conn = 200\nignore_startup_parameters = extra_float_digits,options\n".replace(
            "{auth}", str(workdir / "users.txt")
        )
    )
    (workdir / "users.txt").write_text('"postgres" ""\n')
    for path in (ini, workdir / "users.txt"):
        shutil.chown(path, "postgres", "postgres")
    return _as_postgres(["pgbouncer", str(ini)], workdir / "bouncer.log")


@pytest.fixture(scope="session")
def local_dependency(tmp_short: Path) -> Iterator[str]:
    """The dependency service as a real subprocess; yields its base URL."""
    port = free_port()
    log = tmp_short / "dependency.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "infratests.refapp.dependency"],
        cwd=ROOT,
        env={**os.environ, "HOST": "127.0.0.1", "PORT": str(port)},
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(lambda: httpx.get(url + "/health").status_code == 200, 20, "dependency", log)
        yield url
    finally:
        _stop(proc)


@dataclass
class RunningApp:
    """One ``python -m infratests.refapp`` subprocess."""

    url: str
    proc: subprocess.Popen
    log: Path

    def lines(self) -> list[dict]:
        import json

        out = []
        for line in self.log.read_text().splitlines():
            with contextlib.suppress(ValueError):
                out.append(json.loads(line))
        return out

    def wait_lines(
        self, done: Callable[[list[dict]], bool], keep: Callable[[dict], bool], timeout: float = 10
    ) -> list[dict]:
        """Poll the log until the lines ``keep`` selects satisfy ``done``; return them."""
        deadline = time.monotonic() + timeout
        while True:
            lines = [line for line in self.lines() if keep(line)]
            if done(lines) or time.monotonic() > deadline:
                return lines
            time.sleep(0.02)


@pytest.fixture(scope="session")
def app_env(local_pg: dict[str, int], local_redis: list[int], local_dependency: str) -> dict[str, str]:
    cache, *locks = local_redis
    return {
        "HOST": "127.0.0.1",
        "INSTANCE": "app-t",
        "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{local_pg['bouncer']}/postgres",
        "REDIS_URL": f"redis://127.0.0.1:{cache}/0",
        "REDIS_LOCK_URLS": ",".join(f"redis://127.0.0.1:{p}/0" for p in locks),
        "DEPENDENCY_URL": local_dependency,
        "HEALTH_SECRET": "s3cret-health",
        "CACHE_PREFIX": "t1:",
        "APP_VERSION": "9.9.9",
        "REFAPP_DRAIN_DELAY_MS": "0",  # fast teardown; drain tests set their own
    }


@pytest.fixture(scope="session")
def start_app(app_env: dict[str, str], tmp_short: Path) -> Callable[..., contextlib.AbstractContextManager]:
    """Factory: ``with start_app(REFAPP_X="...") as app:`` runs the app until /health answers 200."""

    @contextlib.contextmanager
    def start(**overrides: str) -> Iterator[RunningApp]:
        port = free_port()
        log = tmp_short / f"app-{port}.log"
        env = {**os.environ, **app_env, "PORT": str(port), **overrides}
        proc = subprocess.Popen(
            [sys.executable, "-m", "infratests.refapp"],
            cwd=ROOT,
            env=env,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        app = RunningApp(f"http://127.0.0.1:{port}", proc, log)
        try:
            _wait(
                lambda: proc.poll() is None and httpx.get(app.url + "/health").status_code == 200,
                30,
                "app",
                log,
            )
            yield app
        finally:
            _stop(proc, timeout=40)

    return start


def _storm(
    app: RunningApp, moves: list[tuple[int, int, int]], workers: int = 8
) -> tuple[list[int], list[int]]:
    """Run transfers interleaved with snapshot reads; return (transfer status codes, totals read)."""
    import concurrent.futures

    def op(move: tuple[int, int, int] | None) -> tuple[str, int]:
        if move is None:
            return "read", http.get("/accounts").json()["total"]
        body = {"from": move[0], "to": move[1], "amount": move[2]}
        return "transfer", http.post("/transfers", json=body).status_code

    interleaved = [x for move in moves for x in (move, None)]
    with (
        httpx.Client(base_url=app.url, timeout=30) as http,
        concurrent.futures.ThreadPoolExecutor(workers) as pool,
    ):
        results = list(pool.map(op, interleaved))
    return [v for kind, v in results if kind == "transfer"], [v for kind, v in results if kind == "read"]


@pytest.fixture(scope="session")
def bank_storm() -> Callable[..., tuple[list[int], list[int]]]:
    """``bank_storm(app, moves)``: concurrent transfers interleaved with ``/accounts`` reads (C-TX-3)."""
    return _storm
