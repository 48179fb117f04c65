"""Real backends for the refapp tests: the stack's own Postgres 15, PgBouncer (transaction
pooling), Redis nodes and dependency (no proxies, no nginx), and app processes started per test."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from infratests.profile_file import load_profile
from infratests.session import Session
from infratests.stack import redis
from infratests.stack.local import LocalProcess, unprivileged_user
from infratests.stack.ports import free_port
from infratests.stack.topology import Stack

ROOT = Path(__file__).resolve().parents[2]


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


BACKENDS = ("postgres", "pgbouncer", "redis-cache", "redis-1", "redis-2", "redis-3", "dependency")


@pytest.fixture(scope="session")
def backends(infratests_session: Session) -> Iterator[Stack]:
    """The stack's own Postgres, PgBouncer, Redis nodes and dependency, started without proxies,
    app replicas or nginx: these tests run their own app processes against them."""
    private = infratests_session.part("refapp")
    private.dir.mkdir(parents=True)
    stack = Stack(load_profile(None, {"faults.proxy": "false", "redis.appendonly": "false"}), private)
    try:
        yield stack.start(only=BACKENDS)
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def tmp_short(backends: Stack) -> Path:
    """A short directory for the tests' own logs (inside the session: the janitor removes it)."""
    return backends.session.service_dir("refapp-tests")


@contextlib.contextmanager
def redis_node(session: Session, port: int | None = None) -> Iterator[tuple[int, LocalProcess]]:
    """One throwaway Redis (the stack's own service module) on ``port`` (default: a free one)."""
    profile = load_profile(None, {"redis.appendonly": "false"})
    port = port or free_port()
    name = f"redis-t{port}"
    spec = redis.redis_spec(profile, name, port, session.service_dir(name))
    with LocalProcess(spec, session, unprivileged_user(profile.run_as), 20) as node:
        yield port, node


@pytest.fixture(scope="session")
def spawn_redis(backends: Stack) -> Callable[..., contextlib.AbstractContextManager]:
    """Factory: ``with spawn_redis(port=None) as (port, node):`` a fresh Redis node a test may stop."""
    return lambda port=None: redis_node(backends.session, port)


@pytest.fixture(scope="session")
def unused_port() -> Callable[[], int]:
    """Factory of free 127.0.0.1 ports (nothing listens there)."""
    return free_port


@pytest.fixture(scope="session")
def local_redis(backends: Stack) -> list[int]:
    """Four Redis ports: [cache, lock1, lock2, lock3]."""
    return [backends[name].endpoint.port for name in ("redis-cache", "redis-1", "redis-2", "redis-3")]


@pytest.fixture(scope="session")
def local_pg(backends: Stack) -> dict[str, Any]:
    """Postgres and PgBouncer (transaction pooling) in front: ports, the app's DSN, the superuser's."""
    return {"pg": backends["postgres"].endpoint.port, "bouncer": backends["pgbouncer"].endpoint.port,
            "dsn": backends["pgbouncer"].endpoint.url, "admin_dsn": backends.admin_dsn}


@pytest.fixture(scope="session")
def local_dependency(backends: Stack) -> str:
    """The dependency service's base URL."""
    return backends["dependency"].endpoint.url


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
def app_env(local_pg: dict[str, Any], local_redis: list[int], local_dependency: str) -> dict[str, str]:
    cache, *locks = local_redis
    return {
        "HOST": "127.0.0.1",
        "INSTANCE": "app-t",
        "DATABASE_URL": local_pg["dsn"],
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
