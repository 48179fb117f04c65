"""Redlock on real Redis nodes and fenced job sections through the app (C-LOCK-1..5)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
import signal
import time

import httpx
import pytest
import redis.asyncio as aioredis

from infratests.refapp.redlock import LockContended, LockUnavailable, Redlock


@pytest.fixture
def three_nodes(spawn_redis):
    """Three fresh Redis nodes this test may stop: yields (ports, processes)."""
    with contextlib.ExitStack() as stack:
        nodes = [stack.enter_context(spawn_redis()) for _ in range(3)]
        yield [port for port, _ in nodes], [proc for _, proc in nodes]


def _lock(ports: list[int], ttl_ms: int = 2000) -> Redlock:
    clients = [aioredis.Redis(port=p, socket_connect_timeout=0.2, socket_timeout=0.2) for p in ports]
    return Redlock(clients, ttl_ms, node_timeout_s=0.3)


def test_redlock_mutual_exclusion_owner_release_and_quorum(three_nodes):  # C-LOCK-1..3
    ports, procs = three_nodes

    async def scenario() -> None:
        a, b = _lock(ports), _lock(ports)
        lease = await a.acquire("res")
        with pytest.raises(LockContended):
            await b.acquire("res")
        stale = type(lease)(lease.resource, "not-the-owner", lease.deadline)
        await b.release(stale)  # owner check: a foreign release deletes nothing
        with pytest.raises(LockContended):
            await b.acquire("res")
        await a.release(lease)
        lease_b = await b.acquire("res")
        procs[0].terminate(5)
        await b.release(lease_b)
        await a.release(await a.acquire("res"))  # one node down: the majority still works
        procs[1].terminate(5)
        with pytest.raises(LockUnavailable):
            await a.acquire("res")  # two of three down: never granted

    asyncio.run(scenario())


def test_redlock_ttl_expiry_and_extension(three_nodes):  # C-LOCK-2, C-LOCK-5
    ports, _ = three_nodes

    async def scenario() -> None:
        a, b = _lock(ports, ttl_ms=300), _lock(ports, ttl_ms=300)
        lease = await a.acquire("res")
        lease = await a.extend(lease)
        await asyncio.sleep(0.4)  # the fault: the holder stays silent past its TTL
        with pytest.raises(LockUnavailable):
            await a.extend(lease)
        await b.release(await b.acquire("res"))

    asyncio.run(scenario())


def test_job_run_contention_and_sections(start_app):  # C-LOCK-1
    with start_app() as app, concurrent.futures.ThreadPoolExecutor(4) as pool:
        job = f"job-{time.monotonic_ns()}"
        runs = list(
            pool.map(lambda _: httpx.post(app.url + f"/jobs/{job}/run?work_ms=600", timeout=30), range(3))
        )
        codes = sorted(r.status_code for r in runs)
        assert codes == [200, 409, 409], [r.text for r in runs]
        ok = next(r.json() for r in runs if r.status_code == 200)
        assert ok["fenced_ok"] and ok["end"] - ok["start"] >= 0.6 and ok["token"] > 0
        sections = httpx.get(app.url + f"/jobs/{job}/sections").json()["sections"]
        assert [s["token"] for s in sections if s["accepted"]] == [ok["token"]]
        metrics = httpx.get(app.url + "/metrics").text
        assert 'lock_acquisitions_total{result="contended"} 2.0' in metrics


def test_two_of_three_lock_nodes_down_is_503(start_app, local_redis, unused_port):  # C-LOCK-3
    urls = [f"redis://127.0.0.1:{local_redis[1]}/0"] + [
        f"redis://127.0.0.1:{unused_port()}/0" for _ in range(2)
    ]
    with start_app(REDIS_LOCK_URLS=",".join(urls)) as app:
        response = httpx.post(app.url + "/jobs/j2/run?work_ms=10", timeout=30)
        assert response.status_code == 503 and "nodes answered" in response.json()["error"]


def _paused_holder(start_app, fencing: str) -> tuple[dict, dict, list[dict]]:
    """Holder A pauses (SIGSTOP) past its TTL while B takes the job; returns (A's answer, B's, sections)."""
    knobs = {"REFAPP_LOCK_TTL_MS": "800", "REFAPP_FENCING": fencing}
    job = f"pause-{fencing}-{time.monotonic_ns()}"
    with start_app(**knobs) as a, start_app(**knobs) as b, concurrent.futures.ThreadPoolExecutor(1) as pool:
        first = pool.submit(httpx.post, a.url + f"/jobs/{job}/run?work_ms=3000", timeout=30)
        deadline = time.monotonic() + 10
        while not httpx.get(b.url + f"/jobs/{job}/sections").json()["sections"]:
            assert time.monotonic() < deadline, "holder A never started its section"
            time.sleep(0.02)
        a.proc.send_signal(signal.SIGSTOP)
        try:
            second = _run_until_granted(b, job)
        finally:
            a.proc.send_signal(signal.SIGCONT)
        return first.result().json(), second, httpx.get(b.url + f"/jobs/{job}/sections").json()["sections"]


def _run_until_granted(app, job: str) -> dict:
    deadline = time.monotonic() + 10  # A's keys expire after the 0.8 s TTL
    while True:
        response = httpx.post(app.url + f"/jobs/{job}/run?work_ms=200", timeout=30)
        if response.status_code == 200:
            return response.json()
        assert response.status_code == 409 and time.monotonic() < deadline, response.text
        time.sleep(0.05)


def _overlaps(sections: list[dict]) -> bool:
    done = sorted((s for s in sections if s["accepted"]), key=lambda s: s["start"])
    return any(later["start"] < earlier["end"] for earlier, later in itertools.pairwise(done))


def test_fencing_rejects_the_paused_holder(start_app):  # C-LOCK-4, C-LOCK-5
    stale, fresh, sections = _paused_holder(start_app, "on")
    assert fresh["fenced_ok"] and fresh["token"] > stale["token"]
    assert stale["fenced_ok"] is False and stale["completed"] is False
    assert not _overlaps(sections)


def test_without_fencing_the_overlap_shows(start_app):  # C-LOCK-4 mutant REFAPP_FENCING=off
    stale, fresh, sections = _paused_holder(start_app, "off")
    assert stale["fenced_ok"] is True and fresh["fenced_ok"] is True
    assert _overlaps(sections)
