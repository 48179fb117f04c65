"""The plugin's guarantees, checked on real pytest runs in subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from infratests.janitor import reap_leftovers

FAULT_LEAK = '''
import json, urllib.request

def clean(stack):
    proxies = json.load(urllib.request.urlopen(stack["faultproxy"].endpoint.url + "/proxies"))
    return all(p["enabled"] and not p["toxics"] for p in proxies.values()), proxies

def test_fails_inside_a_fault(faults):
    with faults.latency("postgres", ms=300):
        with faults.down("redis-1"):
            raise AssertionError("the scenario failed while faults were applied")

def test_next_test_gets_a_clean_proxy(stack, faults):
    ok, proxies = clean(stack)
    assert ok, proxies

def test_leak_through_the_raw_api_is_healed_too(stack):
    stack.faults.latency("pgbouncer", ms=100).apply()
    stack.faults.down("redis-2").apply()

def test_and_still_clean(stack, faults):
    ok, proxies = clean(stack)
    assert ok, proxies
'''

FAILING_WITH_LOGS = '''
def test_fails(stack):
    assert False, "deliberate"
'''


def _pytest(tmp_path: Path, source: str, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_subject.py").write_text(source)
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA",
                           str(tmp_path / "test_subject.py"), *args],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)


def test_no_fault_outlives_its_test(tmp_path: Path) -> None:
    done = _pytest(tmp_path, FAULT_LEAK)
    assert "1 failed, 3 passed" in done.stdout, done.stdout[-3000:]
    assert "FAILED test_subject.py::test_fails_inside_a_fault" in done.stdout


def test_failing_report_carries_service_logs(tmp_path: Path) -> None:
    done = _pytest(tmp_path, FAILING_WITH_LOGS)
    assert "1 failed" in done.stdout
    for service in ("postgres", "pgbouncer", "nginx", "app-1", "faultproxy"):
        assert f"infratests log: {service}" in done.stdout


def test_keep_leaves_the_stack_up_after_a_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_root = Path("/dev/shm" if os.access("/dev/shm", os.W_OK) else "/tmp") / f"itk-{uuid.uuid4().hex[:6]}"
    monkeypatch.setenv("INFRATESTS_RUNDIR", str(env_root))
    try:
        done = _pytest(tmp_path, FAILING_WITH_LOGS, "--infratests-keep")
        assert "stack kept up for inspection" in done.stdout, done.stdout[-2000:]
        kept = [entry for entry in env_root.iterdir()]
        assert len(kept) == 1
        assert reap_leftovers() == [kept[0].name]  # its owner (pytest) is gone: the next run reaps
        assert list(env_root.iterdir()) == []
    finally:
        reap_leftovers()
        env_root.rmdir()
