"""Pre-deploy verification, proven on environments the suite did not start for the run: a stack brought up
separately by ``infratests up`` on loopback, then checked with ``infratests gate --backend external``.

The good environment passes and keeps no trace of the run (no new table, key or connection); an
environment broken in every claim family the live checks cover fails, naming each claim.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis

ROOT = Path(__file__).resolve().parents[2]
BROKEN = {  # one break per claim family the live checks cover
    "C-NGX-5": ["--set", f"nginx.template={ROOT / 'tests/mutants/nginx/no_hsts.conf.j2'}"],
    "C-HL-3": ["--set", "app.env.REFAPP_LEAK_HEALTH_DETAILS=on"],
    "C-OBS-1": ["--set", "app.env.REFAPP_REQUEST_ID=off"],
    "C-RD-2": ["--set", "redis.maxmemory_policy=noeviction"],
    "C-POOL-2": ["--set", "pgbouncer.max_client_conn=100"],
    "C-BK-5": ["--set", "redis.appendonly=false"],
}


@contextmanager
def environment(folder: Path, *options: str) -> Iterator[Path]:
    """A stack started apart from the run under test (``infratests up``); the profile that names it."""
    profile = folder / "environment.toml"
    up = subprocess.Popen([sys.executable, "-m", "infratests.cli", "up", "--external-profile", str(profile),
                           *options], cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not profile.is_file() or not profile.stat().st_size:
            assert up.poll() is None and time.monotonic() < deadline, up.stderr.read() if up.stderr else ""
            time.sleep(0.1)
        yield profile
    finally:
        up.send_signal(signal.SIGINT)
        up.wait(30)


def _gate(folder: Path, profile: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "infratests.cli", "gate", "--backend", "external", "--profile",
                           str(profile), "-ra", "-p", "no:cacheprovider"], cwd=folder, capture_output=True,
                          text=True, timeout=600)


def _traces(profile: Path) -> dict[str, Any]:
    """What a run could leave behind: tables, Redis keys, PgBouncer's clients and Postgres' backends."""
    external = tomllib.loads(profile.read_text())["external"]
    with psycopg.connect(external["postgres_dsn"], autocommit=True) as conn:
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()
        backends = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
                                "AND pid <> pg_backend_pid()").fetchone()
    keys = {}
    for url in external["redis_urls"]:
        node = redis.Redis.from_url(url)
        keys[url] = node.dbsize()
        node.close()
    with psycopg.connect(external["pgbouncer_admin_dsn"], autocommit=True, cursor_factory=psycopg.ClientCursor) as c:
        clients = len(c.execute("SHOW CLIENTS").fetchall())
    return {"tables": tables, "backends": backends, "keys": keys, "pgbouncer_clients": clients}


@pytest.mark.slow
def test_a_good_environment_passes_and_keeps_no_trace_of_the_run(private_root: Path, tmp_path: Path) -> None:
    with environment(tmp_path) as profile:
        time.sleep(1.0)  # the apps' pools settle
        before = _traces(profile)
        done = _gate(tmp_path, profile)
        after = _traces(profile)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    passed = int(re.search(r"(\d+) passed", done.stdout).group(1))  # type: ignore[union-attr]
    assert passed >= 12 and "external backend" in done.stdout
    assert after == before, f"the run left traces: before {before}, after {after}"


@pytest.mark.slow
def test_a_broken_environment_fails_naming_each_claim(private_root: Path, tmp_path: Path) -> None:
    options = [option for flags in BROKEN.values() for option in flags]
    with environment(tmp_path, *options) as profile:
        postgres_port = tomllib.loads(profile.read_text())["external"]["postgres_dsn"].rsplit(":", 1)[1].split("/")[0]
        # an internal port the public host answers on
        text = profile.read_text().replace("[app]", f"internal_ports = [{postgres_port}]\n\n[app]", 1)
        profile.write_text(text)
        done = _gate(tmp_path, profile)
    assert done.returncode == 1, done.stdout[-4000:]
    missing = [claim for claim in [*BROKEN, "C-NGX-8"] if f"{claim} violated" not in done.stdout]
    assert not missing, f"no failure names {missing}:\n{done.stdout[-4000:]}"
