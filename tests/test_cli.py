"""The command line: bad input fails fast with one clear line; up --check measures and tears down."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from infratests.session import runtime_root


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "infratests.cli", *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd)


def _sessions() -> set[str]:
    root = runtime_root()
    return {entry.name for entry in root.iterdir()} if root.is_dir() else set()


@pytest.fixture(autouse=True)
def _own_root(private_root: Path) -> Path:
    """Each test counts sessions in a runtime root of its own."""
    return private_root


def test_bad_override_fails_before_anything_starts() -> None:
    before = _sessions()
    done = _cli("up", "--check", "--set", "postgres.max_connections=many")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "infratests: postgres.max_connections = 'many' has the wrong type: write a whole number"]
    assert _sessions() == before


def test_unknown_profile_key_in_file(tmp_path: Path) -> None:
    (tmp_path / "infratests.toml").write_text("[app]\nreplica = 3\n")
    done = _cli("up", "--check", cwd=tmp_path)
    assert done.returncode == 2
    assert "unknown key app.replica: did you mean app.replicas?" in done.stderr


def test_unknown_direct_link_is_named() -> None:
    done = _cli("up", "--check", "--set", 'faults.direct_links=["app->nowhere"]')
    assert done.returncode == 2
    assert "faults.direct_links: unknown link 'app->nowhere'" in done.stderr


def test_up_check_reports_ready_times_and_leaves_nothing() -> None:
    before = _sessions()
    done = _cli("up", "--check")
    assert done.returncode == 0, done.stderr
    ready = json.loads(done.stdout)["ready_s"]
    assert {"postgres", "pgbouncer", "nginx", "app-1", "app-2", "faultproxy", "total"} <= set(ready)
    assert _sessions() == before


def test_doctor_says_what_is_installed() -> None:
    done = _cli("doctor")
    assert "[ok] postgres: postgres (PostgreSQL)" in done.stdout
    assert "[ok] pgbouncer: PgBouncer" in done.stdout
    assert done.returncode == 0, done.stdout


def test_usage_errors_exit_2() -> None:
    done = _cli("bench", "nothing")
    assert done.returncode == 2
    assert "invalid choice: 'nothing'" in done.stderr



def test_capacity_on_the_default_stack_writes_plot_and_summary(tmp_path: Path) -> None:
    """(--out relative to the folder it runs in)"""
    before = _sessions()
    done = _cli("capacity", "--locustfile", "api_mix", "--start-users", "2", "--max-users", "4",
                "--step-seconds", "2", "--out", "report", cwd=tmp_path)
    assert done.returncode in (0, 1), done.stderr[-2000:]
    assert "step 1/2: 2 users" in done.stdout + done.stderr
    assert {"capacity.png", "capacity.json", "capacity.md"} <= {p.name for p in (tmp_path / "report").iterdir()}
    summary = json.loads((tmp_path / "report" / "capacity.json").read_text())
    assert summary["steps"][0]["requests"] > 0 and summary["steps"][0]["error_rate"] == 0.0
    assert _sessions() == before


def test_an_app_command_that_does_not_exist_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "infratests.toml").write_text('[app]\ncommand = ["no-such-app-binary", "serve"]\n')
    done = _cli("up", "--check", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        f"infratests: app.command: 'no-such-app-binary' not found (on PATH) ({tmp_path / 'infratests.toml'}): "
        "install it or fix app.command")


def test_an_app_its_user_cannot_execute_is_named_before_anything_starts(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("app.run_as needs root")
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    app = home / "app.sh"
    app.write_text("#!/bin/sh\nexec sleep 60\n")
    app.chmod(0o755)
    (tmp_path / "infratests.toml").write_text(f'[app]\ncommand = ["{app}"]\nrun_as = "postgres"\n')
    before = _sessions()
    done = _cli("up", "--check", cwd=tmp_path)
    assert done.returncode == 2
    assert f"app.command: {app} in {tmp_path} is not executable by user postgres (app.run_as)" in done.stderr
    assert _sessions() == before


def test_an_app_that_exits_before_ready_shows_its_exit_code_and_the_ready_path(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("import sys\nprint('cannot connect to the database')\nsys.exit(3)\n")
    (tmp_path / "infratests.toml").write_text(f'[app]\ncommand = ["{sys.executable}", "app.py"]\n')
    before = _sessions()
    done = _cli("up", "--check", cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert "app-1 exited with code 3 before it was ready (waiting for GET /health (app.ready_path)" in lines[1]
    assert "  | cannot connect to the database" in lines[2:]
    assert _sessions() == before


def test_an_app_that_never_gets_ready_names_the_timeout_key(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("import time\ntime.sleep(60)\n")
    (tmp_path / "infratests.toml").write_text(
        f'startup_timeout_s = 2\n[app]\ncommand = ["{sys.executable}", "app.py"]\n')
    done = _cli("up", "--check", cwd=tmp_path)
    assert done.returncode == 2
    assert "app-1 not ready after 2.0 s (startup_timeout_s) (waiting for GET /health (app.ready_path)" in done.stderr
