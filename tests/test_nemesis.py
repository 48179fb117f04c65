"""The nemesis applies a fault plan on time, records it in the history, and heals everything on exit."""

from __future__ import annotations

import json
import time
import urllib.request

import psycopg
import pytest

from infratests.faults.nemesis import Nemesis
from infratests.faults.plan import FaultPlan, FaultStep
from infratests.history import OpType, Recorder
from infratests.stack.topology import Stack


def _proxies(stack: Stack) -> dict[str, dict]:
    return json.load(urllib.request.urlopen(stack["faultproxy"].endpoint.url + "/proxies"))


def _select_seconds(dsn: str) -> float:
    with psycopg.connect(dsn, connect_timeout=5) as conn:
        started = time.monotonic()
        conn.execute("select 1")
        return time.monotonic() - started


def test_plan_is_applied_recorded_and_healed(stack: Stack, faults: Nemesis, recorder: Recorder) -> None:
    plan = FaultPlan(steps=(FaultStep(0.0, "latency", "postgres", {"ms": 150}, 1.0),
                            FaultStep(0.2, "down", "redis-2", {}, 0.5)), seed=7)
    through_bouncer = stack["pgbouncer"].endpoint.url
    with faults.run(plan) as run:
        deadline = time.monotonic() + 5
        while not any(op.f == "start-down" and op.type is OpType.OK for op in recorder.history()):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert not _proxies(stack)["redis-2"]["enabled"]
        assert _select_seconds(through_bouncer) >= 0.14
    ops = [(op.f, op.type) for op in recorder.history() if op.type is not OpType.INVOKE]
    assert ("start-latency", OpType.OK) in ops and ("start-down", OpType.OK) in ops
    assert ("heal-down", OpType.OK) in ops
    assert run.errors == []
    windows = recorder.history().fault_windows()
    assert [(w.fault, w.target) for w in windows] == [("latency", "postgres"), ("down", "redis-2")]
    assert 0.4 <= windows[1].end - windows[1].start < 2.0
    assert all(p["enabled"] and not p["toxics"] for p in _proxies(stack).values())
    assert _select_seconds(through_bouncer) < 0.1


def test_leaving_early_heals_what_is_still_applied(stack: Stack, faults: Nemesis) -> None:
    plan = FaultPlan(steps=(FaultStep(0.0, "down", "pgbouncer", {}, 60.0),), seed=1)
    with pytest.raises(RuntimeError), faults.run(plan):
        deadline = time.monotonic() + 5
        while _proxies(stack)["pgbouncer"]["enabled"]:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        raise RuntimeError("the scenario failed mid-plan")
    assert _proxies(stack)["pgbouncer"]["enabled"]
