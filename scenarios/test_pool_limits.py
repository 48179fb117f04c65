"""Pool limits (C-POOL-1..5): connection math, PgBouncer's client/server limits, app pool
exhaustion, statement timeouts, and stale connections after restarts."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
import pytest

from infratests.checks.promises import Setting, pool_math
from infratests.config import Profile
from infratests.faults.nemesis import Nemesis
from infratests.history import Recorder
from infratests.load.workloads.metrics import scrape, value
from infratests.load.workloads.requests import client_for
from infratests.plugin import StackFactory
from infratests.stack.effective import broken_promise, read_effective
from infratests.stack.pgbouncer import clients
from infratests.stack.topology import Stack
from infratests.wait import poll, wait_until

MARGIN_S = 2.0  # HTTP and scheduling latency on a loaded 2-core machine
QUERY_BOUND_S = 10.0  # C-POOL-2: 1000 x 20 ms over 30 server connections needs ~1 s


def connection_budget(stack: Stack, effective: Mapping[str, Setting]) -> list[str]:
    """C-POOL-1 static math on the servers' effective settings and the promised app pool; every line
    that does not fit, with its numbers and where each was set."""
    promises = stack.profile.promises
    return [finding.message for finding in pool_math(effective, stack.profile.app.replicas, promises.pool_max,
                                                     f"promises.pool_max {promises.pool_max}")]


def _sample_backends(admin_dsn: str, user: str, stop: threading.Event, peaks: dict[str, int]) -> None:
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        while not stop.wait(0.03):
            total, mine = conn.execute(
                "SELECT count(*), count(*) FILTER (WHERE usename = %s) FROM pg_stat_activity "
                "WHERE backend_type = 'client backend'", (user,)).fetchone()  # type: ignore[misc]
            peaks["total"], peaks["app"] = max(peaks["total"], total), max(peaks["app"], mine)


@pytest.mark.gate
@pytest.mark.needs("db")
def test_connection_budget_fits_statically_and_under_load(stack: Stack) -> None:
    """C-POOL-1: replicas x pool max fits PgBouncer's client limit, PgBouncer's server pool fits
    Postgres' max_connections minus reserved; under a burst larger than every pool,
    pg_stat_activity never shows more server connections than that budget."""
    profile, effective = stack.profile, read_effective(stack)
    problems = connection_budget(stack, effective)
    stop, peaks = threading.Event(), {"total": 0, "app": 0}
    sampler = threading.Thread(target=_sample_backends, args=(stack.admin_dsn, profile.postgres.user,
                                                              stop, peaks))
    sampler.start()
    burst = min(2 * profile.app.replicas * profile.promises.pool_max, 120)
    try:
        with ThreadPoolExecutor(burst) as pool:
            statuses = list(pool.map(lambda _: _get(stack.url, stack, "/db/sleep?s=0.3"), range(burst)))
    finally:
        stop.set()
        sampler.join()
    server_side = effective["pgbouncer.default_pool_size"].value + effective["pgbouncer.reserve_pool_size"].value
    budget = effective["postgres.max_connections"].value - effective["postgres.superuser_reserved_connections"].value
    if peaks["app"] > server_side:
        problems.append(f"observed {peaks['app']} app server connections > PgBouncer pool {server_side}")
    if peaks["total"] > budget:
        problems.append(f"observed {peaks['total']} client backends > Postgres budget {budget}")
    print(f"C-POOL-1: burst of {burst}: statuses {sorted(set(statuses))}, peak backends {peaks}")
    assert not problems, "C-POOL-1 violated: " + "; ".join(problems)


def _get(base_url: str, stack: Stack, path: str, timeout: float = 20.0) -> int:
    try:
        with client_for(base_url, stack.tls.ca, timeout) as client:
            return client.get(path).status_code
    except httpx.HTTPError:
        return 0


@pytest.fixture
def one_replica(stack_factory: StackFactory) -> Iterator[Stack]:
    """A private stack with one app replica (few clients of PgBouncer of its own)."""
    with stack_factory({"app.replicas": "1"}) as private:
        yield private


def _pgbouncer_clients(stack: Stack) -> int:
    return len(clients(stack["pgbouncer"].endpoint))  # this console connection included


async def _connect_all(dsn: str, count: int, parallel: int = 64) -> list[psycopg.AsyncConnection]:
    gate = asyncio.Semaphore(parallel)

    async def one() -> psycopg.AsyncConnection:
        async with gate:
            return await psycopg.AsyncConnection.connect(dsn, autocommit=True, prepare_threshold=None,
                                                         connect_timeout=20)
    results = await asyncio.gather(*(one() for _ in range(count)), return_exceptions=True)
    opened = [r for r in results if isinstance(r, psycopg.AsyncConnection)]
    errors = [r for r in results if not isinstance(r, psycopg.AsyncConnection)]
    if errors:
        await asyncio.gather(*(c.close() for c in opened))
        raise AssertionError(f"C-POOL-2 violated: {len(errors)} of {count} clients below max_client_conn "
                             f"could not connect, e.g. {errors[0]!r}")
    return opened


async def _peak_server_connections(admin_dsn: str, user: str, stop: asyncio.Event) -> int:
    peak = 0
    async with await psycopg.AsyncConnection.connect(admin_dsn, autocommit=True) as conn:
        while not stop.is_set():
            cur = await conn.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = %s", (user,))
            peak = max(peak, (await cur.fetchone())[0])  # type: ignore[index]
            await asyncio.sleep(0.02)
    return peak


async def _one_more(dsn: str) -> tuple[str, float]:
    started = time.monotonic()
    try:
        extra = await psycopg.AsyncConnection.connect(dsn, connect_timeout=10)
    except psycopg.OperationalError as error:
        return str(error).strip(), time.monotonic() - started
    await extra.close()
    return "accepted", time.monotonic() - started


async def _fill_pgbouncer(stack: Stack, max_client_conn: int) -> dict[str, object]:
    dsn = stack["pgbouncer"].endpoint.url
    mine = max_client_conn - _pgbouncer_clients(stack) + 1  # the console connection has left
    clients = await _connect_all(dsn, mine)
    try:
        refused, waited = await _one_more(dsn)
        stop = asyncio.Event()
        sampler = asyncio.create_task(_peak_server_connections(stack.admin_dsn, stack.profile.postgres.user, stop))
        try:
            answers = await asyncio.wait_for(asyncio.gather(
                *(c.execute("SELECT pg_sleep(0.02)") for c in clients), return_exceptions=True), QUERY_BOUND_S)
        except TimeoutError:
            answers = [TimeoutError(f"the {mine} clients' queries had not all finished after {QUERY_BOUND_S} s: "
                                    "clients hang waiting for a server connection")]
        stop.set()
        peak = await sampler
    finally:
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
    failed = [a for a in answers if isinstance(a, BaseException)]
    return {"clients": mine, "refused": refused, "waited_s": waited, "peak": peak, "failed": failed}


@pytest.mark.asyncio
@pytest.mark.slow  # 1000 SCRAM logins: ~5 s idle, 15 s on a loaded 2-core machine
async def test_pgbouncer_serves_max_client_conn_and_refuses_the_next(one_replica: Stack) -> None:
    """C-POOL-2: the promised max_client_conn (1000) clients connect and all get served while Postgres
    sees at most the promised default_pool_size (30) server connections; the next client gets
    PgBouncer's clear max_client_conn error at once instead of hanging. PgBouncer's effective limits
    are held to the promises, and shown beside what was observed."""
    effective, promises = read_effective(one_replica), one_replica.profile.promises
    clients = effective["pgbouncer.max_client_conn"].value
    seen = await _fill_pgbouncer(one_replica, clients)
    print(f"C-POOL-2: {seen['clients']} more clients, peak server connections {seen['peak']}, "
          f"client {clients + 1}: {seen['refused']!r} after {seen['waited_s']:.2f} s")
    problems = [broken for broken in (
        broken_promise(one_replica, "pgbouncer.max_client_conn", effective),
        broken_promise(one_replica, "pgbouncer.default_pool_size", effective))
        if broken]
    if "max_client_conn" not in str(seen["refused"]) or float(seen["waited_s"]) > 5.0:  # type: ignore[arg-type]
        problems.append(f"client {clients + 1} got {seen['refused']!r} after {seen['waited_s']:.2f} s, not a prompt "
                        "max_client_conn error")
    else:
        problems = [f"{problem}; client {clients + 1} refused" for problem in problems]
    server_limit = promises.default_pool_size + effective["pgbouncer.reserve_pool_size"].value
    if int(seen["peak"]) > server_limit:  # type: ignore[call-overload]
        problems.append(f"Postgres saw {seen['peak']} server connections > the promised default_pool_size "
                        f"{promises.default_pool_size} (+ reserve)")
    if seen["failed"]:
        failed = seen["failed"]
        problems.append(f"{len(failed)} of the connected clients' queries failed, e.g. {failed[0]!r}")  # type: ignore[index,arg-type]
    assert not problems, "C-POOL-2 violated: " + "; ".join(problems)


def _timed_get(url: str, timeout: float) -> tuple[int, float]:
    started = time.monotonic()
    try:
        status = httpx.get(url, timeout=timeout).status_code
    except httpx.HTTPError:
        status = 0  # no answer within the client's patience: the caller hung
    return status, time.monotonic() - started


@pytest.fixture
def small_timeouts(stack_factory: StackFactory) -> Iterator[Stack]:
    """One replica, its pool opened full where the pool keeps a minimum (growing 18 connections at once
    can outlast a 1 s acquire timeout on a loaded machine), a 1 s acquire timeout."""
    with stack_factory({"app.replicas": "1"},
                       promises={"acquire_timeout_ms": 1000, "pool_min": 20, "pool_max": 20}) as private:
        yield private


def _running_sleeps(stack: Stack, at_least_s: float = 0.0) -> int:
    """``pg_sleep`` queries running in Postgres now (those asked to sleep ``at_least_s`` or more)."""
    with psycopg.connect(stack.admin_dsn, autocommit=True) as conn:
        rows = conn.execute("SELECT query FROM pg_stat_activity WHERE state = 'active' "
                            "AND query ILIKE '%%pg_sleep%%' AND pid <> pg_backend_pid()").fetchall()
    return sum(1 for (query,) in rows if _slept(query) >= at_least_s)


def _slept(query: str) -> float:
    inside = query.lower().split("pg_sleep(", 1)[1].split(")", 1)[0].strip("'\" $1")
    try:
        return float(inside)
    except ValueError:
        return float("inf")  # a parameter placeholder: count it


def _usage_reported(stack: Stack) -> str | None:
    """Where pool usage above 80% shows: the app's pool gauges, when it has metrics; None: nowhere."""
    if "metrics" not in stack.profile.capabilities():
        return "not judged: the app declares no metrics"
    with httpx.Client(base_url=stack["app-1"].endpoint.url, timeout=5) as app:
        samples = scrape(app)
    active = value(samples, "db_pool_connections", {"state": "active"}) or value(samples, "db_pool_active")
    total = value(samples, "db_pool_connections", {"state": "total"}) or value(samples, "db_pool_total")
    return f"/metrics shows {active:g} of {total:g} pool connections active" if total and active / total >= 0.8 \
        else None


@pytest.mark.needs("db")
def test_exhausted_app_pool_fails_fast_and_recovers(small_timeouts: Stack) -> None:
    """C-POOL-3: with every pool connection held, further callers get an error within the acquire timeout
    (never hang), usage above 80% is reported, and the pool serves again after the burst."""
    profile, app = small_timeouts.profile, small_timeouts["app-1"].endpoint.url
    acquire_s, pool_max = profile.promises.acquire_timeout_ms / 1000, profile.promises.pool_max
    hold_s = acquire_s + 5.0  # holders start over ~2 s on a loaded machine; callers need the rest
    with ThreadPoolExecutor(pool_max + 8) as pool:
        holders = [pool.submit(_timed_get, f"{app}/db/sleep?s={hold_s}", hold_s + 10) for _ in range(pool_max)]
        wait_until(lambda: _running_sleeps(small_timeouts, at_least_s=hold_s) >= pool_max,
                   "the holders took every pool connection")
        callers = list(pool.map(lambda _: _timed_get(f"{app}/db/sleep?s=0", acquire_s + 4), range(8)))
        reported = _usage_reported(small_timeouts)
        held = [h.result() for h in holders]
    recovered = _timed_get(f"{app}/db/sleep?s=0", 10)
    slow = [f"{status} after {took:.2f} s" for status, took in callers
            if status < 500 or took > acquire_s + MARGIN_S]
    problems = [f"callers on an exhausted pool got {slow} (expected an error within the promised acquire "
                f"timeout {acquire_s:.1f} s + {MARGIN_S} s)"] if slow else []
    if any(status != 200 for status, _ in held):
        problems.append(f"the holders themselves failed: {held}")
    if recovered[0] != 200:
        problems.append(f"after the burst a request still got {recovered[0]}")
    if reported is None:
        problems.append("usage above 80% was never reported (the pool gauges on /metrics)")
    print(f"C-POOL-3: callers {callers}, recovered {recovered}, usage reported: {reported}")
    assert not problems, "C-POOL-3 violated: " + "; ".join(problems)


@pytest.fixture
def one_connection(stack_factory: StackFactory) -> Iterator[Stack]:
    """One replica whose pool is exactly one connection (so reuse is certain) and a 500 ms statement timeout."""
    with stack_factory({"app.replicas": "1"},
                       promises={"pool_max": 1, "pool_min": 1, "statement_timeout_ms": 500}) as private:
        yield private


@pytest.mark.gate
@pytest.mark.needs("db")
def test_statement_timeout_cancels_a_runaway_query_and_the_connection_is_reused(one_connection: Stack) -> None:
    """C-POOL-4: a query running past statement_timeout is cancelled server side (an error soon after the
    timeout, nothing left running in Postgres) and the pool's connection serves the next request."""
    bound = one_connection.profile.promises.statement_timeout_ms / 1000
    app = one_connection["app-1"].endpoint.url
    status, took = _timed_get(f"{app}/db/sleep?s={bound + 3}", bound + 6)
    left = poll(lambda: _running_sleeps(one_connection), lambda running: not running, 2.0)
    after, after_s = _timed_get(f"{app}/db/sleep?s=0", 5)
    problems = []
    if status < 500 or took > bound + MARGIN_S:
        problems.append(f"a {bound + 3:.1f} s query answered {status} after {took:.2f} s, not an error within "
                        f"the promised statement timeout ({bound:.1f} s) + {MARGIN_S} s")
    if left:
        problems.append(f"{left} runaway query(ies) still running in Postgres")
    if after != 200 or after_s > MARGIN_S:
        problems.append(f"the next request on the pool's connection got {after} after {after_s:.2f} s")
    assert not problems, "C-POOL-4 violated: " + "; ".join(problems)


def _requests_survive(app: str, count: int = 12) -> list[str]:
    """``count`` requests, 4 at a time, each retried once: the ones that failed both attempts."""
    def attempt(n: int) -> str | None:
        first = _timed_get(f"{app}/db/sleep?s=0", 10)
        if first[0] == 200:
            return None
        second = _timed_get(f"{app}/db/sleep?s=0", 10)
        return None if second[0] == 200 else f"request {n}: {first[0]} then {second[0]}"
    with ThreadPoolExecutor(4) as pool:
        return [failure for failure in pool.map(attempt, range(count)) if failure]


@pytest.mark.destructive
@pytest.mark.needs("db")
def test_stale_connections_are_replaced_after_restarts(stack_factory: StackFactory, recorder: Recorder) -> None:
    """C-POOL-5: after PgBouncer and then Postgres restart under a warm pool, dead connections are
    detected and replaced: no request fails twice."""
    with stack_factory({"app.replicas": "1"}) as stack:
        app, nemesis = stack["app-1"].endpoint.url, Nemesis(stack, recorder)
        failures: list[str] = []
        for name in ("pgbouncer", "postgres"):
            with ThreadPoolExecutor(10) as pool:  # warm: ~10 connections in the pool
                list(pool.map(lambda _: _timed_get(f"{app}/db/sleep?s=0.2", 10), range(10)))
            nemesis.restart(name)
            failures += [f"after {name} restart: {f}" for f in _requests_survive(app)]
    assert not failures, "C-POOL-5 violated: requests failed twice on stale connections: " + "; ".join(failures)


def _app_client_ports(stack: Stack) -> set[int]:
    """PgBouncer's client connections to the app database (the app pool's, through the proxy)."""
    return {int(row["port"]) for row in clients(stack["pgbouncer"].endpoint, stack.profile.postgres.database)}


@pytest.mark.needs("db")
def test_max_lifetime_recycles_connections(stack_factory: StackFactory, infratests_profile: Profile) -> None:
    """C-POOL-5: every pool connection is replaced once it is older than the max lifetime
    (2 s here; 1 h in the claim's profile) while requests keep being served."""
    short = {"pool_max_lifetime_s": 2}
    if not infratests_profile.shortened(short) and infratests_profile.promises.pool_max_lifetime_s > 30:
        pytest.skip(f"the promised max lifetime is {infratests_profile.promises.pool_max_lifetime_s} s and the "
                    "app does not receive a shorter one (map pool_max_lifetime_s in app.promise_env)")
    with stack_factory({"app.replicas": "1"}, promises=short) as stack:
        lifetime = stack.profile.promises.pool_max_lifetime_s
        app = stack["app-1"].endpoint.url
        before = _app_client_ports(stack)
        statuses = set()

        def still_open() -> set[int]:  # the pool is used meanwhile: it recycles on checkout
            statuses.add(_timed_get(f"{app}/db/sleep?s=0", 5)[0])
            return before & _app_client_ports(stack)
        still = poll(still_open, lambda open_: not open_, min(lifetime, 5) * 2 + 3, interval=0.2)
    assert not still and statuses <= {200}, (
        f"C-POOL-5 violated: after {min(lifetime, 5) * 2 + 3} s, {len(still)} of {len(before)} pool connections "
        f"older than the max lifetime ({lifetime} s) were still open; request statuses {sorted(statuses)}")
