"""Demonstrations, not claims: Redlock's known unsafe cases, shown on the reference app.

They prove the suite's detection power (a scenario that only ever passes proves
nothing): with the reference app's fencing switched off, a holder paused past
its TTL overlaps its successor (C-LOCK-4's "without fencing the suite must show
the overlap"); with no persistence, a lock node restarted at once forgets the
lock and it is granted twice (Redlock's restart condition). A correct app is
safer than these setups, so they are never verdicts on a user's app.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from infratests.checks import mutex
from infratests.faults.nemesis import Nemesis
from infratests.history import Recorder
from infratests.load.workloads.jobs import (
    Background,
    run_job,
    sections,
    sections_history,
    until_granted,
    wait_for_section,
)
from infratests.plugin import StackFactory
from infratests.stack.topology import Stack


def _job(kind: str) -> str:
    return f"{kind}-{uuid.uuid4().hex[:8]}"


@contextmanager
def _reference_app(stack_factory: StackFactory, **settings: str) -> Iterator[Stack]:
    """Two replicas of the reference app with its own settings (``REFAPP_*``) and the profile keys given."""
    overrides = {"app.command": "[]", "app.replicas": "2"}
    overrides.update({(f"app.env.{k}" if k.startswith("REFAPP_") else k.replace("__", ".")): v
                      for k, v in settings.items()})
    with stack_factory(overrides) as private:
        yield private


@contextmanager
def _replicas(stack: Stack) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    with httpx.Client(base_url=stack["app-1"].endpoint.url, timeout=30.0) as a, \
            httpx.Client(base_url=stack["app-2"].endpoint.url, timeout=30.0) as b:
        yield a, b


def pause_the_holder(s: Stack, job: str, recorder: Recorder) -> tuple[Any, httpx.Response | None]:
    """A holds the job on app-1 and is SIGSTOPped past its TTL while B (app-2) takes the job; A resumes."""
    with _replicas(s) as (a, b):
        holder = Background(lambda: run_job(a, recorder, "holder", job, 4_000))
        wait_for_section(b, job)
        with Nemesis(s, recorder).paused("app-1"):
            second = until_granted(b, recorder, job, timeout_s=9.0, work_ms=600)
        return holder.result(), second


def test_paused_holder_without_fencing_overlaps(stack_factory: StackFactory, recorder: Recorder) -> None:
    """C-LOCK-4 (known Redlock property): without fencing, a paused holder's section overlaps its successor's."""
    job = _job("unfenced")
    with _reference_app(stack_factory, REFAPP_LOCK_TTL_MS="1000", REFAPP_FENCING="off") as s:
        _, successor = pause_the_holder(s, job, recorder)
        with httpx.Client(base_url=s["app-2"].endpoint.url, timeout=30.0) as b:
            rows = sections(b, job)
    result = mutex.check(sections_history(rows, job), claim="C-LOCK-4")
    overlaps = [v for v in result.violations if v.kind == "overlap"]
    assert successor is not None and overlaps, (
        "C-LOCK-4 not demonstrated: expected the known Redlock overlap without fencing (a paused holder "
        f"resumes after its TTL and completes its write), but none showed: successor={successor!r} sections={rows}")


def test_lock_node_restarted_at_once_without_persistence_double_grants(stack_factory: StackFactory,
                                                                       recorder: Recorder) -> None:
    """C-LOCK-3 (Redlock's restart condition, the unsafe case): the lock lives on redis-1 and redis-2 only
    (redis-3 was unreachable when it was taken); redis-2 crashes and restarts at once, empty, and the
    lock is granted a second time while its holder still runs (no persistence, no extension, no fencing)."""
    job = _job("restart-now")
    with _reference_app(stack_factory, redis__appendonly="false", REFAPP_LOCK_TTL_MS="3000",
                        REFAPP_LOCK_EXTEND="off", REFAPP_FENCING="off") as s, _replicas(s) as (a, b):
        nemesis = Nemesis(s, recorder)
        with nemesis.down("redis-3"):
            holder = Background(lambda: run_job(a, recorder, "holder", job, 2_500))
            wait_for_section(b, job)
        with nemesis.crashed("redis-2"):
            pass  # started again at once
        until_granted(b, recorder, job, timeout_s=4.0, work_ms=100)
        holder.result()
        rows = sections(b, job)
    result = mutex.check(sections_history(rows, job), claim="C-LOCK-3")
    assert any(v.kind == "overlap" for v in result.violations), (
        "C-LOCK-3 not demonstrated: expected Redlock's known double grant after a lock node restarted at once "
        f"without persistence, but the lock was not granted twice: {rows}")
