"""Ports are claimed machine-wide: another live run's claim is never handed out, a dead run's is."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from infratests.session import process_identity
from infratests.stack import ports


@pytest.fixture
def claims(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("INFRATESTS_PORTS_DIR", str(tmp_path / ".ports"))
    monkeypatch.setattr(ports, "_claimed", {})
    monkeypatch.setattr(ports, "_LOWEST", 20000)
    monkeypatch.setattr(ports, "_ephemeral_start", lambda: 20002)  # two candidates: 20000, 20001
    (tmp_path / ".ports").mkdir()
    return tmp_path / ".ports"


def test_a_live_process_claim_is_skipped(claims: Path) -> None:
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]) as other:
        try:
            (claims / "20000").write_text(process_identity(other.pid))
            assert {ports.free_port()} == {20001}
            assert (claims / "20001").read_text() == process_identity(ports.os.getpid())
        finally:
            other.kill()


def test_a_dead_process_claim_is_taken_over(claims: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    stale = f"{dead.stdout.strip()} 12345\n"
    for port in (20000, 20001):
        (claims / str(port)).write_text(stale)
    port = ports.free_port()
    assert port in (20000, 20001)
    assert (claims / str(port)).read_text() == process_identity(ports.os.getpid())
    ports._release()  # at exit: this process's claims go, others stay
    assert not (claims / str(port)).exists() and (claims / str(40001 - port)).read_text() == stale


def test_the_last_claim_released_removes_the_directory(claims: Path) -> None:
    ports.free_port()
    ports._release()
    assert not claims.exists()
