"""A run killed with SIGKILL leaves leftovers; the next run reaps all of them."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from infratests.janitor import open_session, reap_leftovers, session_processes

VICTIM = '''
import json, os, time
def test_hold_the_stack(stack):
    ports = [s.endpoint.port for s in stack] + [stack.link("app", "pgbouncer").port]
    report = {"session": stack.session.id, "ports": ports, "dir": str(stack.session.dir)}
    with open(os.environ["VICTIM_REPORT"] + ".tmp", "w") as out:
        json.dump(report, out)
    os.rename(os.environ["VICTIM_REPORT"] + ".tmp", os.environ["VICTIM_REPORT"])
    time.sleep(600)
'''


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def _killed_run(tmp_path: Path) -> dict[str, object]:
    (tmp_path / "test_victim.py").write_text(VICTIM)
    report = tmp_path / "report.json"
    victim = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                               str(tmp_path / "test_victim.py")],
                              cwd=tmp_path, env={**os.environ, "VICTIM_REPORT": str(report)},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while not report.exists():
        assert victim.poll() is None, victim.stdout.read().decode() if victim.stdout else ""
        assert time.monotonic() < deadline, "the victim run never brought its stack up"
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    return json.loads(report.read_text())


def test_next_run_reaps_a_sigkilled_run(private_root: Path, tmp_path: Path) -> None:
    left = _killed_run(tmp_path)
    session_id, ports = str(left["session"]), list(left["ports"])  # type: ignore[arg-type]
    assert session_processes(session_id), "SIGKILL of pytest should leave its servers running"
    assert any(_listening(port) for port in ports)

    next_run = open_session()  # reaps first, as every run does
    try:
        assert session_processes(session_id, Path(str(left["dir"]))) == []
        assert [port for port in ports if _listening(port)] == []
        assert not Path(str(left["dir"])).exists()
    finally:
        next_run.close()
    assert [entry.name for entry in private_root.iterdir()] == ["owner"]


def test_down_all_stops_a_live_run(private_root: Path) -> None:
    live = open_session()
    sleeper = subprocess.Popen(["sleep", "600"], env={**os.environ, **live.child_env()},
                               start_new_session=True)
    try:
        done = subprocess.run([sys.executable, "-m", "infratests.cli", "down"], capture_output=True, text=True)
        assert live.id not in done.stdout  # its owner (this process) is alive
        assert sleeper.poll() is None
        assert reap_leftovers(include_live=False) == []
    finally:
        live.close()
    assert sleeper.wait(5) == -signal.SIGKILL


def test_sessions_nested_in_a_dead_owners_directory_are_reaped(private_root: Path) -> None:
    """A test's private runtime root left by a killed pytest: its own sessions are reaped with it."""
    outer = private_root / "t-dead"
    nested = outer / "0123456789"
    nested.mkdir(parents=True)
    (outer / "owner").write_text("999999 1\n")  # an owner that no longer runs
    (nested / "owner").write_text("999999 1\n")
    sleeper = subprocess.Popen(["sleep", "600"], env={**os.environ, "INFRATESTS_SESSION": nested.name},
                               start_new_session=True)
    assert reap_leftovers() == ["t-dead"]
    assert sleeper.wait(5) == -signal.SIGKILL
    assert not outer.exists()


def test_a_directory_being_created_is_never_reaped(private_root: Path) -> None:
    """open_session's directory appears with its owner file; until then it has a dot-name the janitor skips."""
    staging = private_root / ".0123456789"
    staging.mkdir()
    assert reap_leftovers() == []
    assert staging.exists()
    staging.rmdir()
