"""Distributed job locks: Redlock over three Redis nodes, fencing tokens, TTLs and auto-extension (C-LOCK-1..5).

Critical sections are read back from ``GET /jobs/{name}/sections`` (start and end
stamped by Postgres ``clock_timestamp()``) and judged by the mutex and fencing
checkers. Cases that kill, pause or restart a process run on a private stack.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import httpx
import pytest

from infratests.checks import fencing, mutex
from infratests.checks.history import OpType, Recorder
from infratests.checks.result import assert_holds
from infratests.load.workloads.jobs import (
    Background,
    contend,
    run_job,
    sections,
    sections_history,
    until_granted,
    wait_for_section,
)
from infratests.load.workloads.requests import client_for
from infratests.stack.topology import Stack

StackFactory = Callable[..., AbstractContextManager[Stack]]


def _job(kind: str) -> str:
    return f"{kind}-{uuid.uuid4().hex[:8]}"


@contextmanager
def _replica(stack: Stack, name: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack[name].endpoint.url, timeout=30.0) as client:
        yield client


@contextmanager
def _private(stack_factory: StackFactory, profile: dict[str, str] | None = None,
             **env: str) -> Iterator[Stack]:
    """Two replicas with the scenario's lock knobs (``app.env.REFAPP_*``), unless the command line sets them."""
    defaults = {"app.replicas": "2", **(profile or {}), **{f"app.env.{k}": v for k, v in env.items()}}
    with stack_factory(defaults) as private:
        yield private


def _ttl_s(stack: Stack) -> float:
    return int(stack.profile.app.env.get("REFAPP_LOCK_TTL_MS", "10000")) / 1000


@pytest.mark.gate
@pytest.mark.load
def test_contending_workers_never_overlap(stack: Stack) -> None:
    """C-LOCK-1: workers on every replica contend for one job through nginx; no two sections overlap."""
    job, recorder = _job("mutex"), Recorder()
    with client_for(stack.url, stack.tls.ca, timeout_s=30.0) as public:
        contend([public], recorder, job, duration_s=3.0, work_ms=60, workers_per_client=4)
        rows = sections(public, job)
    result = mutex.check(sections_history(rows, job), claim="C-LOCK-1")
    assert_holds(result)
    assert result.stats["sections_ok"] >= 3, f"C-LOCK-1: too few granted sections to judge: {rows}"


@pytest.mark.destructive
@pytest.mark.chaos
def test_crashed_holder_frees_the_lock_after_its_ttl(stack_factory: StackFactory) -> None:
    """C-LOCK-2: kill -9 the holder mid-job; nobody gets the lock before its TTL, somebody soon after."""
    job, recorder = _job("crash"), Recorder()
    with _private(stack_factory, REFAPP_LOCK_TTL_MS="1500") as s, \
            _replica(s, "app-1") as holder, _replica(s, "app-2") as other:
        ttl = _ttl_s(s)
        Background(lambda: run_job(holder, recorder, "holder", job, 60_000))
        wait_for_section(other, job)
        s["app-1"].kill()
        killed = time.monotonic()
        first = run_job(other, recorder, "contender", job, 10)
        granted = until_granted(other, recorder, job, timeout_s=min(ttl, 5.0) + 8.0, work_ms=10)
        waited = time.monotonic() - killed
    assert first is not None and (first.status_code == 409 or waited >= ttl * 0.9), (
        f"C-LOCK-2: the lock was granted {waited:.2f} s after the holder crashed, before its "
        f"{ttl} s TTL ran out")
    assert granted is not None, (
        f"C-LOCK-2: the crashed holder's lock was still held {waited:.1f} s after the crash "
        f"(TTL {ttl} s): it never expires")
    assert waited <= ttl + 5.0, f"C-LOCK-2: lock freed only {waited:.1f} s after the crash (TTL {ttl} s)"


@pytest.mark.destructive
@pytest.mark.chaos
def test_a_stale_holder_cannot_release_its_successors_lock(stack_factory: StackFactory) -> None:
    """C-LOCK-2: a holder paused past its TTL resumes and releases; only its own lock goes (token check),
    so its successor keeps the job and third parties are still refused."""
    job, recorder, third = _job("owner"), Recorder(), Recorder()
    with _private(stack_factory, REFAPP_LOCK_TTL_MS="1000") as s, \
            _replica(s, "app-1") as a, _replica(s, "app-2") as b:
        Background(lambda: run_job(a, recorder, "holder", job, 4_000))
        wait_for_section(b, job)
        s["app-1"].pause()
        try:
            successor = Background(lambda: until_granted(b, recorder, job, min(_ttl_s(s), 5.0) + 8.0, 3_000))
            wait_for_section(b, job, timeout_s=min(_ttl_s(s), 5.0) + 8.0, instance="app-2")
        finally:
            s["app-1"].resume()
        contend([a], third, job, duration_s=2.0, work_ms=50, workers_per_client=2)
        answer = successor.result()
        rows = sections(b, job)
    stolen = [op for op in third.history().completions() if op.type is OpType.OK]
    body = answer.json() if isinstance(answer, httpx.Response) else answer
    assert isinstance(answer, httpx.Response) and body.get("fenced_ok") and not stolen, (
        f"C-LOCK-2: after the stale holder released, {len(stolen)} third-party runs were granted while "
        f"its successor still held the job (successor answered {body!r}): a release deleted a lock "
        f"its caller did not own; sections {rows}")


_ONE_NODE_FAULTS = {
    "down": lambda faults: faults.down("redis-1"),
    "slow": lambda faults: faults.latency("redis-2", ms=60),
    "slower_than_node_timeout": lambda faults: faults.latency("redis-3", ms=800),
    "partitioned": lambda faults: faults.timeout("redis-1", ms=0),
}


@pytest.mark.chaos
@pytest.mark.load
@pytest.mark.parametrize("fault", [pytest.param("down", marks=pytest.mark.gate), "slow",
                                   "slower_than_node_timeout", "partitioned"])
def test_one_lock_node_fault_keeps_exclusion_and_liveness(stack: Stack, faults: Any, fault: str) -> None:
    """C-LOCK-3: with one of three lock nodes down, slow or partitioned, the majority still grants, exclusively."""
    job, recorder = _job(f"one-{fault}"), Recorder()
    with _replica(stack, "app-1") as a, _replica(stack, "app-2") as b, _ONE_NODE_FAULTS[fault](faults):
        contend([a, b], recorder, job, duration_s=2.5, work_ms=50, workers_per_client=2)
        rows = sections(a, job)
    result = mutex.check(sections_history(rows, job), claim="C-LOCK-3", allow_empty=True)
    assert_holds(result)
    granted = result.stats["sections_ok"]
    statuses = sorted({op.extra.get("status") for op in recorder.history().completions()})
    assert granted >= 3, (f"C-LOCK-3: with one lock node {fault}, only {granted} job runs were granted "
                          f"in 2.5 s (answers: {statuses}): the remaining majority did not keep the lock live")


@pytest.mark.gate
@pytest.mark.chaos
def test_two_lock_nodes_down_never_grants(stack: Stack, faults: Any) -> None:
    """C-LOCK-3: with two of three lock nodes down, every acquisition fails cleanly (503) and none is granted."""
    job, recorder = _job("two-down"), Recorder()
    with _replica(stack, "app-1") as a, _replica(stack, "app-2") as b, \
            faults.down("redis-1"), faults.down("redis-2"):
        contend([a, b], recorder, job, duration_s=1.0, work_ms=20, workers_per_client=2)
        rows = sections(a, job)
    answers = [op for op in recorder.history().completions()]
    granted = [op for op in answers if op.extra.get("status") != 503]
    assert answers and not granted and not rows, (
        f"C-LOCK-3: with two of three lock nodes down, {len(granted)} of {len(answers)} runs were not "
        f"refused with 503 and {len(rows)} sections ran: {granted[:3]} {rows[:3]}")


def _pause_the_holder(s: Stack, job: str, recorder: Recorder) -> tuple[Any, httpx.Response | None]:
    """A holds the job on app-1 and is SIGSTOPped past its TTL while B (app-2) takes the job; A resumes."""
    with _replica(s, "app-1") as a, _replica(s, "app-2") as b:
        holder = Background(lambda: run_job(a, recorder, "holder", job, 4_000))
        wait_for_section(b, job)
        s["app-1"].pause()
        try:
            second = until_granted(b, recorder, job, timeout_s=min(_ttl_s(s), 5.0) + 8.0, work_ms=600)
        finally:
            s["app-1"].resume()
        return holder.result(), second


@pytest.mark.destructive
@pytest.mark.chaos
def test_paused_holder_is_fenced(stack_factory: StackFactory) -> None:
    """C-LOCK-4: a holder paused past its TTL resumes and writes; its stale token is rejected."""
    job, recorder = _job("fenced"), Recorder()
    with _private(stack_factory, REFAPP_LOCK_TTL_MS="1000") as s:
        stale, successor = _pause_the_holder(s, job, recorder)
        with _replica(s, "app-2") as b:
            rows = sections(b, job)
    assert successor is not None, f"C-LOCK-4: nobody got the lock while its holder was paused: {rows}"
    history = sections_history(rows, job)
    result = fencing.check(history, claim="C-LOCK-4", order="end")
    assert_holds(result)
    assert_holds(mutex.check(history, claim="C-LOCK-4"))
    assert result.stats["rejected"] >= 1, (
        f"C-LOCK-4: the paused holder's stale write was never rejected (holder answered {stale!r}): {rows}")


@pytest.mark.destructive
@pytest.mark.chaos
def test_paused_holder_without_fencing_overlaps(stack_factory: StackFactory) -> None:
    """C-LOCK-4 (known Redlock property): without fencing, a paused holder's section overlaps its successor's."""
    job, recorder = _job("unfenced"), Recorder()
    with _private(stack_factory, REFAPP_LOCK_TTL_MS="1000", REFAPP_FENCING="off") as s:
        _, successor = _pause_the_holder(s, job, recorder)
        with _replica(s, "app-2") as b:
            rows = sections(b, job)
    result = mutex.check(sections_history(rows, job), claim="C-LOCK-4")
    overlaps = [v for v in result.violations if v.kind == "overlap"]
    assert successor is not None and overlaps, (
        "C-LOCK-4: expected the known Redlock overlap without fencing (a paused holder resumes "
        f"after its TTL and completes its write), but none showed: successor={successor!r} sections={rows}")


def _restart_a_lock_node(s: Stack, job: str, recorder: Recorder, down_for: float) -> list[dict]:
    """A holds the job on redis-1+2 only (redis-3 unreachable when it acquired); redis-2 crashes and restarts.

    Returns the sections once B (app-2) got the job or gave up.
    """
    with _replica(s, "app-1") as a, _replica(s, "app-2") as b:
        with s.faults.down("redis-3"):
            holder = Background(lambda: run_job(a, recorder, "holder", job, 2_500))
            wait_for_section(b, job)
        s["redis-2"].kill()
        s["redis-2"].restart(down_for)
        until_granted(b, recorder, job, timeout_s=4.0, work_ms=100)
        holder.result()
        return sections(b, job)


_NO_PERSISTENCE = {"redis.appendonly": "false"}
_RESTART_KNOBS = {"REFAPP_LOCK_TTL_MS": "3000", "REFAPP_LOCK_EXTEND": "off", "REFAPP_FENCING": "off"}


@pytest.mark.destructive
@pytest.mark.chaos
def test_lock_node_restarted_at_once_without_persistence_double_grants(
        stack_factory: StackFactory) -> None:
    """C-LOCK-3 (Redlock's restart condition, the unsafe case): a node restarted at once forgets the lock.

    No persistence, no fencing: the lock is granted a second time while its holder still runs.
    """
    job, recorder = _job("restart-now"), Recorder()
    with _private(stack_factory, _NO_PERSISTENCE, **_RESTART_KNOBS) as s:
        rows = _restart_a_lock_node(s, job, recorder, down_for=0.0)
    result = mutex.check(sections_history(rows, job), claim="C-LOCK-3")
    assert any(v.kind == "overlap" for v in result.violations), (
        "C-LOCK-3: expected Redlock's known double grant after a lock node restarted at once without "
        f"persistence, but the lock was not granted twice: {rows}")


@pytest.mark.destructive
@pytest.mark.chaos
def test_lock_node_restarted_after_the_ttl_keeps_exclusion(stack_factory: StackFactory) -> None:
    """C-LOCK-3 (Redlock's restart condition, the safe case): a node that stays down longer than the TTL.

    Restarted empty only after every lock it held has expired, it cannot help grant a live lock twice.
    """
    job, recorder = _job("restart-late"), Recorder()
    with _private(stack_factory, _NO_PERSISTENCE, **_RESTART_KNOBS) as s:
        rows = _restart_a_lock_node(s, job, recorder, down_for=_ttl_s(s) + 0.5)
    assert_holds(mutex.check(sections_history(rows, job), claim="C-LOCK-3"))


@pytest.mark.destructive
def test_auto_extension_keeps_a_long_jobs_lock(stack_factory: StackFactory) -> None:
    """C-LOCK-5: a job three times longer than the TTL keeps its lock; contenders are refused meanwhile."""
    job, recorder = _job("extend"), Recorder()
    with _private(stack_factory, REFAPP_LOCK_TTL_MS="1000") as s, \
            _replica(s, "app-1") as a, _replica(s, "app-2") as b:
        long_job = Background(lambda: run_job(a, recorder, "holder", job, 3_500))
        wait_for_section(b, job)
        contend([b], recorder, job, duration_s=2.5, work_ms=50, workers_per_client=2)
        answer = long_job.result()
        rows = sections(b, job)
    assert_holds(mutex.check(sections_history(rows, job), claim="C-LOCK-5"))
    body = answer.json() if isinstance(answer, httpx.Response) else answer
    stolen = [op for op in recorder.history().completions() if op.process != "holder" and op.type is OpType.OK]
    kept = isinstance(answer, httpx.Response) and answer.status_code == 200 and body["fenced_ok"]
    assert kept and not stolen, (
        f"C-LOCK-5: a 3.5 s job under a 1 s TTL lost its lock instead of extending it: holder answered "
        f"{body!r}, {len(stolen)} contenders were granted the job meanwhile; sections {rows}")


@pytest.mark.destructive
@pytest.mark.chaos
def test_failed_extension_stops_the_job(stack_factory: StackFactory) -> None:
    """C-LOCK-5: when the lock can no longer be extended (two lock nodes gone), the job stops early."""
    job, recorder = _job("stop"), Recorder()
    with _private(stack_factory, REFAPP_LOCK_TTL_MS="1000") as s, \
            _replica(s, "app-1") as a, _replica(s, "app-2") as b:
        long_job = Background(lambda: run_job(a, recorder, "holder", job, 6_000))
        wait_for_section(b, job)
        with s.faults.down("redis-1"), s.faults.down("redis-2"):
            answer = long_job.result(timeout=30.0)
        rows = sections(b, job)
    ran = [row["end"] - row["start"] for row in rows if row["end"] is not None]
    body = answer.json() if isinstance(answer, httpx.Response) else answer
    assert isinstance(answer, httpx.Response) and not body.get("completed") and ran and max(ran) < 4.0, (
        f"C-LOCK-5: the job kept running after its lock extension failed: answer {body!r}, "
        f"section durations {ran} s of 6 s")
