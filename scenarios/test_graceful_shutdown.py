"""Graceful shutdown of app replicas (C-GS-1..5), on private stacks: every fault here is a process fault.

Each scenario arranges a private stack (short drain delay so it runs in
seconds), starts load (a threaded client recording a history, or Locust for the
rolling restart), signals a replica, and ends with one check over the history
or over what the servers report (exit code, PgBouncer's client list).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import AbstractContextManager
from typing import Any

import httpx
import psycopg
import pytest

from infratests.checks import windows
from infratests.checks.history import Recorder
from infratests.checks.result import assert_holds
from infratests.load import LoadSpec, LocustRun, load_history
from infratests.load.workloads.requests import RequestLoad, client_for, timed_request
from infratests.stack import pgbouncer
from infratests.stack.service import Service
from infratests.stack.topology import Stack

StackFactory = Callable[..., AbstractContextManager[Stack]]
DRAIN_DELAY_MS = 1000
_FAST_DRAIN = {"app.env.REFAPP_DRAIN_DELAY_MS": str(DRAIN_DELAY_MS)}

pytestmark = [pytest.mark.destructive, pytest.mark.chaos]


def _in_flight(app: Service) -> float:
    """The replica's ``http_requests_in_flight``, not counting the /metrics request itself."""
    for line in httpx.get(app.endpoint.url + "/metrics", timeout=5).text.splitlines():
        if line.startswith("http_requests_in_flight "):
            return float(line.split()[1]) - 1
    return 0.0


def _wait(condition: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting until {what}"
        time.sleep(0.02)


def _settled(count: Callable[[], int], timeout: float) -> int:
    """Poll ``count`` until it reaches 0 or ``timeout`` passes; the last value (closing is asynchronous)."""
    deadline = time.monotonic() + timeout
    while (value := count()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return value


def _answers(recorder: Recorder) -> int:
    return len(recorder.history().completions())


def _slow_direct(app: Service, recorder: Recorder, n: int, ms: int) -> None:
    with client_for(app.endpoint.url, timeout_s=30) as client:
        timed_request(client, recorder, f"slow-{n}", "slow-in-flight", f"/slow?ms={ms}")


def _bouncer_clients(stack: Stack, instance: str) -> int:
    """How many client connections PgBouncer lists for ``instance`` (its application_name)."""
    admin = pgbouncer.admin_dsn(stack["pgbouncer"].endpoint, stack.profile)
    # the admin console speaks only the simple query protocol: ClientCursor
    with psycopg.connect(admin, autocommit=True, cursor_factory=psycopg.ClientCursor) as conn:
        cursor = conn.execute("SHOW CLIENTS")
        column = [d.name for d in cursor.description or ()].index("application_name")
        return sum(1 for row in cursor.fetchall() if row[column] == instance)


def test_sigterm_mid_load_finishes_in_flight_exits_zero_and_releases_db(stack_factory: StackFactory) -> None:
    """C-GS-1: SIGTERM app-1 with slow requests in flight and steady load through nginx: no request
    fails, the in-flight ones complete, the process exits 0, PgBouncer no longer lists its connections."""
    with stack_factory({"app.replicas": "2", **_FAST_DRAIN}) as private:
        app, recorder = private["app-1"], Recorder()
        assert _bouncer_clients(private, "app-1") > 0, "app-1 holds no PgBouncer connection to release"
        with ThreadPoolExecutor(4) as pool:
            slow = [pool.submit(_slow_direct, app, recorder, n, 4000) for n in range(4)]
            _wait(lambda: _in_flight(app) >= 4, "4 slow requests are in flight on app-1")
            with RequestLoad(private.url, recorder, ("/api/steady",), rate_per_s=40, ca_file=private.tls.ca):
                before = _answers(recorder)
                _wait(lambda: _answers(recorder) >= before + 15, "the load is flowing")
                code = app.terminate(timeout=20)
                for done in slow:
                    done.result()
            left = _settled(lambda: _bouncer_clients(private, "app-1"), 5.0)
    assert_holds(windows.check(recorder.history(), claim="C-GS-1"))
    assert code == 0, f"C-GS-1: app-1 exited with {code} after SIGTERM, not 0 (None: still running after 20 s)"
    assert left == 0, f"C-GS-1: PgBouncer still lists {left} client connection(s) of app-1 after it exited"


def test_sigint_drains_like_sigterm(stack_factory: StackFactory) -> None:
    """C-GS-1: SIGINT (Ctrl-C, PM2's default) drains too: in-flight requests complete, exit code 0."""
    with stack_factory({"app.replicas": "1", **_FAST_DRAIN}) as private:
        app, recorder = private["app-1"], Recorder()
        pid = getattr(app, "pid", None)
        if pid is None:
            pytest.skip(f"the {private.backend} backend gives no process id to send SIGINT to")
        with ThreadPoolExecutor(3) as pool:
            slow = [pool.submit(_slow_direct, app, recorder, n, 2500) for n in range(3)]
            _wait(lambda: _in_flight(app) >= 3, "3 slow requests are in flight on app-1")
            os.kill(pid, signal.SIGINT)
            for done in slow:
                done.result()
        _wait(lambda: not app.is_running(), "app-1 exits after SIGINT", 20.0)
        code = app.terminate(timeout=0)  # already exited: its exit code
    assert_holds(windows.check(recorder.history(), claim="C-GS-1"))
    assert code == 0, f"C-GS-1: app-1 exited with {code} after SIGINT, not 0"


def _probe_direct(app: Service, recorder: Recorder, until: float) -> None:
    """New connections, as a fresh client makes them: /health/ready and a new request, alternating."""
    for n in range(10_000):
        if time.monotonic() >= until:
            return
        path = "/health/ready" if n % 2 == 0 else "/api/new"
        with client_for(app.endpoint.url, timeout_s=5) as client:
            timed_request(client, recorder, "probe", path.rsplit("/", 1)[-1], path, expect=(503,))


def test_draining_replica_answers_503_and_never_resets(stack_factory: StackFactory) -> None:
    """C-GS-2: from SIGTERM through the drain delay, /health/ready and new requests get 503, never a reset."""
    delay_ms = 2000
    with stack_factory({"app.replicas": "1", "app.env.REFAPP_DRAIN_DELAY_MS": str(delay_ms)}) as private:
        app, recorder = private["app-1"], Recorder()
        with ThreadPoolExecutor(1) as pool:
            signalled = time.monotonic()
            exited = pool.submit(app.terminate, 20)
            # the signal handler needs a moment to run; the listener closes at the drain delay's end
            window = (signalled + 0.3, signalled + 0.75 * delay_ms / 1000)
            _probe_direct(app, recorder, until=window[1])
            exited.result()
    assert_holds(windows.check(recorder.history(), window, claim="C-GS-2", allowed={503}))


def _nginx_requests(stack: Stack) -> int:
    """nginx's own request counter (stub_status), to see that Locust's load is flowing."""
    with client_for(stack.url, stack.tls.ca, timeout_s=5) as client:
        return int(client.get("/nginx-status").text.split("\n")[2].split()[2])


def _routed_to(stack: Stack, instance: str, timeout: float) -> None:
    """Wait until nginx sends requests to ``instance`` again (its passive health check forgave it)."""
    with client_for(stack.url, stack.tls.ca, timeout_s=5) as client:
        _wait(lambda: client.get("/api/rolling").json().get("instance") == instance,
              f"nginx routes to {instance} again", timeout)


def test_rolling_restart_under_locust_load_has_zero_failures(stack_factory: StackFactory) -> None:
    """C-GS-4: restart every replica in turn under steady Locust load through nginx: SIGTERM, wait for
    its exit, start it, wait until it is ready and nginx routes to it again, then the next one.
    No client request fails while the restarts run.

    nginx marks a replica down for ``fail_timeout`` after its first drain 503; restarting the next one
    before that has passed leaves no live upstream (502). The private stack shortens fail_timeout to
    keep the scenario short; the wait for routing is what makes the procedure correct.
    """
    overrides = {"app.replicas": "2", "nginx.fail_timeout_s": "2", **_FAST_DRAIN}
    with stack_factory(overrides) as private:
        spec = LoadSpec("slow_requests", private.url, users=12, duration_s=90, ca_file=private.tls.ca,
                        env={"INFRATESTS_SLOW_MS": "300", "INFRATESTS_TIMEOUT_S": "10"}, stop_timeout_s=5)
        codes = {}
        with LocustRun(spec, private.session.dir / "locust", on_spawn=private.session.record_group) as run:
            flowing = _nginx_requests(private)
            _wait(lambda: _nginx_requests(private) >= flowing + 40, "Locust's load is flowing", 30.0)
            began = time.monotonic()
            for app in [s for s in private if s.kind == "app"]:
                codes[app.name] = app.terminate(timeout=20)
                app.start()
                _routed_to(private, app.name, private.profile.nginx.fail_timeout_s + 15.0)
            ended = time.monotonic()
        history = load_history(run.result.history_path)
    assert_holds(windows.check(history, (began, ended), claim="C-GS-4"))
    assert set(codes.values()) == {0}, f"C-GS-4: replicas exited with {codes} during the rolling restart"


@pytest.mark.parametrize("kill_timeout_ms", [2000])
def test_hung_drain_is_forced_to_exit_after_the_kill_timeout(stack_factory: StackFactory,
                                                             kill_timeout_ms: int) -> None:
    """C-GS-3: a drain that never completes ends in a forced, non-zero exit at the kill timeout."""
    hang = {"app.replicas": "1", "app.env.REFAPP_HANG_ON_DRAIN": "on", "app.env.REFAPP_DRAIN_DELAY_MS": "200",
            "app.env.REFAPP_KILL_TIMEOUT_MS": str(kill_timeout_ms)}
    kill_s, patience_s = kill_timeout_ms / 1000, kill_timeout_ms / 1000 + 8.0
    with stack_factory(hang) as private:
        signalled = time.monotonic()
        code = private["app-1"].terminate(timeout=patience_s)
        took = time.monotonic() - signalled
    assert code is not None, (f"C-GS-3: app-1's drain hung and it was still running {took:.1f} s after "
                              f"SIGTERM (kill timeout {kill_s:g} s): no forced exit")
    assert code != 0 and 0.9 * kill_s <= took, (
        f"C-GS-3: hung drain ended with exit code {code} after {took:.1f} s; want a non-zero "
        f"forced exit at the kill timeout ({kill_s:g} s)")


def _ready_then_use(app: Service, ready_path: str, recorder: Recorder, deadline: float) -> float:
    """Poll the replica's readiness signal; the moment it says ready, use the database through it."""
    with client_for(app.endpoint.url, timeout_s=10) as client:
        while True:
            assert time.monotonic() < deadline, f"{app.name} never signalled ready"
            try:
                if client.get(ready_path).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.01)
        ready_at = time.monotonic()
        for n in range(3):
            timed_request(client, recorder, "user", "db", f"/db/sleep?s=0&n={n}")
    return ready_at


def test_replica_signals_ready_only_when_it_can_serve(stack_factory: StackFactory) -> None:
    """C-GS-5: a replica starting while its database is unreachable says ready only once it can serve:
    requests that need the database succeed from the first moment its readiness signal is 200."""
    slow_pool = {"app.replicas": "1", "app.env.REFAPP_POOL_TIMEOUT_MS": "1000",
                 "app.env.REFAPP_POOL_OPEN_TIMEOUT_MS": "25000"}
    with stack_factory(slow_pool) as private, ThreadPoolExecutor(2) as pool:
        app, recorder = private["app-1"], Recorder()
        app.kill()
        deadline = time.monotonic() + 40
        with private.faults.down("pgbouncer"):
            starting: Future[Any] = pool.submit(app.start)
            prober = pool.submit(_ready_then_use, app, private.profile.app.ready_path, recorder, deadline)
            # the database stays unreachable for 4 s, unless the replica already said ready and was used
            wait([prober], timeout=4.0)
        ready_at = prober.result()
        starting.result()
    assert_holds(windows.check(recorder.history(), (ready_at, float("inf")), claim="C-GS-5", f="db"))
