"""Distributed job locks: Redlock over three Redis nodes, fencing tokens, TTLs and auto-extension (C-LOCK-1..5).

Critical sections are read back from ``GET /jobs/{name}/sections`` (start and
end on the app's one clock) and judged by the mutex and fencing checkers.
Answers are judged by the claim: any of the contract's "not granted" statuses
is a refusal, any 2xx a grant. Cases that kill, pause or restart a process run
on a private stack whose lock TTL is shortened when the app receives it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import redis

from infratests.checks import fencing, mutex
from infratests.checks.result import assert_holds
from infratests.faults.nemesis import Nemesis
from infratests.history import OpType, Recorder
from infratests.load.workloads.jobs import (
    NOT_GRANTED,
    Background,
    contend,
    run_job,
    sections,
    sections_history,
    until_granted,
    wait_for_section,
)
from infratests.load.workloads.requests import client_for
from infratests.plugin import StackFactory
from infratests.stack.redis import lock_node_names
from infratests.stack.topology import Stack

pytestmark = pytest.mark.needs("locks")


def _job(kind: str) -> str:
    return f"{kind}-{uuid.uuid4().hex[:8]}"


@contextmanager
def _replica(stack: Stack, name: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack[name].endpoint.url, timeout=30.0) as client:
        yield client


@contextmanager
def _private(stack_factory: StackFactory, ttl_ms: int, profile: Mapping[str, str] | None = None) -> Iterator[Stack]:
    """Two replicas and a lock TTL of ``ttl_ms`` (when the app receives it), unless the command line says otherwise."""
    with stack_factory({"app.replicas": "2", **(profile or {})}, promises={"lock_ttl_ms": ttl_ms}) as private:
        yield private


def _ttl_s(stack: Stack) -> float:
    return stack.profile.promises.lock_ttl_ms / 1000


def _granted(answer: Any) -> bool:
    return isinstance(answer, httpx.Response) and 200 <= answer.status_code < 300


def _body(answer: Any) -> Any:
    try:
        return answer.json() if isinstance(answer, httpx.Response) else answer
    except ValueError:
        return answer.text


@pytest.mark.gate
@pytest.mark.load
def test_contending_workers_never_overlap(stack: Stack, recorder: Recorder) -> None:
    """C-LOCK-1: workers on every replica contend for one job through nginx; no two sections overlap."""
    job = _job("mutex")
    with client_for(stack.url, stack.tls.ca, timeout_s=30.0) as public:
        contend([public], recorder, job, duration_s=3.0, work_ms=60, workers_per_client=4)
        rows = sections(public, job)
    result = mutex.check(sections_history(rows, job), claim="C-LOCK-1")
    assert_holds(result)
    assert result.stats["sections_ok"] >= 3, f"C-LOCK-1: too few granted sections to judge: {rows}"


@pytest.mark.destructive
@pytest.mark.chaos
def test_crashed_holder_frees_the_lock_after_its_ttl(stack_factory: StackFactory, recorder: Recorder) -> None:
    """C-LOCK-2: kill -9 the holder mid-job; nobody gets the lock before its TTL, somebody soon after."""
    job = _job("crash")
    with _private(stack_factory, 1500) as s, _replica(s, "app-1") as holder, _replica(s, "app-2") as other:
        ttl = _ttl_s(s)
        Background(lambda: run_job(holder, recorder, "holder", job, 60_000))
        wait_for_section(other, job)
        Nemesis(s, recorder).kill("app-1")
        killed = time.monotonic()
        first = run_job(other, recorder, "contender", job, 10)
        granted = until_granted(other, recorder, job, timeout_s=min(ttl, 15.0) + 8.0, work_ms=10)
        waited = time.monotonic() - killed
    assert first is not None and (first.status_code in NOT_GRANTED or waited >= ttl * 0.9), (
        f"C-LOCK-2 violated: the lock was granted {waited:.2f} s after the holder crashed, before its "
        f"{ttl} s TTL ran out")
    assert granted is not None, (
        f"C-LOCK-2 violated: the crashed holder's lock was still held {waited:.1f} s after the crash "
        f"(TTL {ttl} s): it never expires")
    assert waited <= ttl + 5.0, f"C-LOCK-2 violated: lock freed only {waited:.1f} s after the crash (TTL {ttl} s)"


@pytest.mark.destructive
@pytest.mark.chaos
def test_a_stale_holder_cannot_release_its_successors_lock(stack_factory: StackFactory,
                                                           recorder: Recorder) -> None:
    """C-LOCK-2: a holder paused past its TTL resumes and releases; only its own lock goes (token check),
    so its successor keeps the job and third parties are still refused."""
    job, third = _job("owner"), Recorder()
    with _private(stack_factory, 1000) as s, _replica(s, "app-1") as a, _replica(s, "app-2") as b:
        ttl = _ttl_s(s)
        Background(lambda: run_job(a, recorder, "holder", job, int(4 * ttl * 1000)))
        wait_for_section(b, job)
        with Nemesis(s, recorder).paused("app-1"):
            successor = Background(lambda: until_granted(b, recorder, job, min(ttl, 15.0) + 8.0, int(3 * ttl * 1000)))
            wait_for_section(b, job, timeout_s=min(ttl, 15.0) + 8.0, instance="app-2")
        contend([a], third, job, duration_s=2.0, work_ms=50, workers_per_client=2)
        answer = successor.result()
        rows = sections(b, job)
    stolen = [op for op in third.history().completions() if op.type is OpType.OK]
    assert _granted(answer) and not stolen, (
        f"C-LOCK-2 violated: after the stale holder released, {len(stolen)} third-party runs were granted while "
        f"its successor still held the job (successor answered {_body(answer)!r}): a release deleted a lock "
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
def test_one_lock_node_fault_keeps_exclusion_and_liveness(stack: Stack, faults: Nemesis, fault: str,
                                                          recorder: Recorder) -> None:
    """C-LOCK-3: with one of three lock nodes down, slow or partitioned, the majority still grants, exclusively."""
    job = _job(f"one-{fault}")
    with _replica(stack, "app-1") as a, _replica(stack, _second(stack)) as b, _ONE_NODE_FAULTS[fault](faults):
        contend([a, b], recorder, job, duration_s=2.5, work_ms=50, workers_per_client=2)
        rows = sections(a, job)
    result = mutex.check(sections_history(rows, job), claim="C-LOCK-3", allow_empty=True)
    assert_holds(result)
    granted = result.stats["sections_ok"]
    statuses = sorted({int(op.extra.get("status", 0)) for op in recorder.history().client_ops().completions()})
    assert granted >= 3, (f"C-LOCK-3 violated: with one lock node {fault}, only {granted} job runs were granted "
                          f"in 2.5 s (answers: {statuses}): the remaining majority did not keep the lock live")


def _second(stack: Stack) -> str:
    """Another replica than app-1 when there is one (contention across processes), else app-1."""
    return "app-2" if stack.profile.app.replicas > 1 else "app-1"


@pytest.mark.gate
@pytest.mark.chaos
def test_two_lock_nodes_down_never_grants(stack: Stack, faults: Nemesis, recorder: Recorder) -> None:
    """C-LOCK-3: with two of three lock nodes down, every acquisition fails cleanly (a "not granted"
    answer) and none is granted."""
    job = _job("two-down")
    with _replica(stack, "app-1") as a, _replica(stack, _second(stack)) as b, \
            faults.down("redis-1"), faults.down("redis-2"):
        contend([a, b], recorder, job, duration_s=1.0, work_ms=20, workers_per_client=2)
        rows = sections(a, job)
    answers = recorder.history().client_ops().completions()
    granted = [op for op in answers if op.type is OpType.OK]
    unclean = [op for op in answers if op.extra.get("status") not in NOT_GRANTED]
    assert answers and not granted and not unclean and not rows, (
        f"C-LOCK-3 violated: with two of three lock nodes down, {len(granted)} of {len(answers)} runs were "
        f"granted, {len(unclean)} not refused cleanly (statuses {sorted(NOT_GRANTED)}), {len(rows)} sections "
        f"ran: {(granted or unclean)[:3]} {rows[:3]}")


def _pause_the_holder(s: Stack, job: str, recorder: Recorder) -> tuple[Any, httpx.Response | None]:
    """A holds the job on app-1 and is SIGSTOPped past its TTL while B (app-2) takes the job; A resumes."""
    ttl = _ttl_s(s)
    with _replica(s, "app-1") as a, _replica(s, "app-2") as b:
        holder = Background(lambda: run_job(a, recorder, "holder", job, int(4 * ttl * 1000)))
        wait_for_section(b, job)
        with Nemesis(s, recorder).paused("app-1"):
            second = until_granted(b, recorder, job, timeout_s=min(ttl, 15.0) + 8.0, work_ms=600)
        return holder.result(timeout=60 + 4 * ttl), second


@pytest.mark.destructive
@pytest.mark.chaos
def test_paused_holder_is_fenced(stack_factory: StackFactory, recorder: Recorder) -> None:
    """C-LOCK-4: a holder paused past its TTL resumes and writes; its stale token is rejected, and every
    section carries a fencing token."""
    job = _job("fenced")
    with _private(stack_factory, 1000) as s:
        stale, successor = _pause_the_holder(s, job, recorder)
        with _replica(s, "app-2") as b:
            rows = sections(b, job)
    assert successor is not None, f"C-LOCK-4: nobody got the lock while its holder was paused: {rows}"
    history = sections_history(rows, job)
    result = fencing.check(history, claim="C-LOCK-4")
    assert_holds(result)
    assert_holds(mutex.check(history, claim="C-LOCK-4"))
    assert result.stats["rejected"] >= 1, (
        f"C-LOCK-4 violated: the paused holder's stale write was never rejected (holder answered "
        f"{_body(stale)!r}): {rows}")


def _holding_nodes(stack: Stack, job: str) -> list[str]:
    """The lock nodes that hold a key naming ``job`` (the contract: a lock's key contains its job's name)."""
    holding = []
    for name in lock_node_names(stack.profile):
        node = redis.Redis.from_url(stack[name].endpoint.url, socket_timeout=2.0)
        try:
            if next(node.scan_iter(match=f"*{job}*"), None) is not None:
                holding.append(name)
        finally:
            node.close()
    return holding


@pytest.mark.destructive
@pytest.mark.chaos
def test_lock_nodes_restarted_after_the_ttl_keep_exclusion(stack_factory: StackFactory,
                                                           recorder: Recorder) -> None:
    """C-LOCK-3 (Redlock's restart condition): a lock held on a bare majority (one node unreachable when it
    was taken); each node it lives on crashes in turn and stays down longer than the TTL before it comes
    back empty (no persistence), while a contender keeps trying. The lock is never granted twice.

    The nodes are the ones the app's lock actually lives on, a majority or a single node."""
    job = _job("restart-late")
    with _private(stack_factory, 3000, {"redis.appendonly": "false"}) as s, \
            _replica(s, "app-1") as a, _replica(s, "app-2") as b:
        ttl, nemesis = _ttl_s(s), Nemesis(s, recorder)
        with nemesis.down("redis-3"):
            holder = Background(lambda: run_job(a, recorder, "holder", job, int(3 * ttl * 1000)))
            wait_for_section(b, job)
            holding = _holding_nodes(s, job)
        for name in holding:
            with nemesis.crashed(name):
                time.sleep(ttl + 0.5)
            run_job(b, recorder, "contender", job, 100)
        until_granted(b, recorder, job, timeout_s=ttl + 5.0, work_ms=100)
        holder.result(timeout=30 + 3 * ttl)
        rows = sections(b, job)
    assert holding, f"C-LOCK-3: no lock node held a key naming {job!r} while the job ran"
    print(f"C-LOCK-3: restarted {holding} in turn, each down {ttl + 0.5:.1f} s")
    assert_holds(mutex.check(sections_history(rows, job), claim="C-LOCK-3"))


@pytest.mark.destructive
def test_auto_extension_keeps_a_long_jobs_lock(stack_factory: StackFactory, recorder: Recorder) -> None:
    """C-LOCK-5: a job three and a half times longer than the TTL keeps its lock; contenders are refused meanwhile."""
    job = _job("extend")
    with _private(stack_factory, 1000) as s, _replica(s, "app-1") as a, _replica(s, "app-2") as b:
        ttl = _ttl_s(s)
        long_job = Background(lambda: run_job(a, recorder, "holder", job, int(3.5 * ttl * 1000)))
        wait_for_section(b, job)
        contend([b], recorder, job, duration_s=2.5 * ttl, work_ms=50, workers_per_client=2)
        answer = long_job.result(timeout=60 + 4 * ttl)
        rows = sections(b, job)
    assert_holds(mutex.check(sections_history(rows, job), claim="C-LOCK-5"))
    body = _body(answer)
    stolen = [op for op in recorder.history().client_ops().completions()
              if op.process != "holder" and op.type is OpType.OK]
    kept = _granted(answer) and isinstance(body, dict) and body.get("completed", True) is not False
    assert kept and not stolen, (
        f"C-LOCK-5 violated: a job 3.5 x longer than its {ttl} s TTL lost its lock instead of extending it: "
        f"holder answered {body!r}, {len(stolen)} contenders were granted the job meanwhile; sections {rows}")


@pytest.mark.destructive
@pytest.mark.chaos
def test_failed_extension_stops_the_job(stack_factory: StackFactory, recorder: Recorder) -> None:
    """C-LOCK-5: when the lock can no longer be extended (two lock nodes gone), the job stops early."""
    job = _job("stop")
    with _private(stack_factory, 1000) as s, _replica(s, "app-1") as a, _replica(s, "app-2") as b:
        ttl = _ttl_s(s)
        long_job = Background(lambda: run_job(a, recorder, "holder", job, int(6 * ttl * 1000)))
        wait_for_section(b, job)
        nemesis = Nemesis(s, recorder)
        with nemesis.down("redis-1"), nemesis.down("redis-2"):
            answer = long_job.result(timeout=30.0 + 6 * ttl)
        rows = sections(b, job)
    ran = [row["end"] - row["start"] for row in rows if row.get("end") is not None]
    body = _body(answer)
    stopped = isinstance(answer, httpx.Response) and (
        not _granted(answer) or (isinstance(body, dict) and body.get("completed") is False))
    assert stopped and (not ran or max(ran) < 4 * ttl), (
        f"C-LOCK-5 violated: the job kept running after its lock extension failed: answer {body!r}, "
        f"section durations {ran} s of a {6 * ttl:g} s job")
