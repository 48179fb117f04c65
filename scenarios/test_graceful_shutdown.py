"""Graceful shutdown of app replicas (C-GS-1..5), on private stacks: every fault here is a process fault.

Each scenario arranges a private stack (the drain delay and kill timeout
shortened when the app receives them), starts load (a threaded client
recording a history, or Locust for the rolling restart), signals a replica,
and ends with one check over the history or over what the servers report
(exit code, PgBouncer's client list). What the app does is read from the wire:
a slow request is in flight once the app has read it from its socket.
"""

from __future__ import annotations

import signal
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

import httpx
import pytest

from infratests.checks import windows
from infratests.checks.result import assert_holds
from infratests.errors import ServiceError
from infratests.faults.nemesis import Nemesis
from infratests.history import History, Recorder
from infratests.load import LoadSpec, LocustRun, load_history
from infratests.load.workloads.requests import RequestLoad, client_for, timed_request
from infratests.plugin import StackFactory
from infratests.stack.nginx import stub_status
from infratests.stack.pgbouncer import clients
from infratests.stack.service import Service
from infratests.stack.sockets import connections_to, requests_read
from infratests.stack.topology import Stack
from infratests.wait import poll, wait_until

FAST_DRAIN = {"drain_delay_ms": 1000}
ANY_ANSWER = range(100, 600)

pytestmark = [pytest.mark.destructive, pytest.mark.chaos, pytest.mark.needs("graceful_shutdown")]


def _in_flight(stack: Stack, app: Service) -> int:
    """This test's requests that ``app`` has read and not answered yet (seen on the wire)."""
    return requests_read(app.endpoint.port, stack.proc_net)


def _answers(recorder: Recorder) -> int:
    return len(recorder.history().completions())


def _slow_direct(app: Service, recorder: Recorder, n: int, ms: int) -> None:
    with client_for(app.endpoint.url, timeout_s=30 + ms / 1000) as client:
        timed_request(client, recorder, f"slow-{n}", "slow-in-flight", f"/slow?ms={ms}")


def _bouncer_clients(stack: Stack, instance: str) -> int:
    """How many client connections PgBouncer lists for ``instance`` (its application_name)."""
    return len(clients(stack["pgbouncer"].endpoint, application_name=instance))


def test_sigterm_mid_load_finishes_in_flight_exits_zero_and_releases_db(stack_factory: StackFactory,
                                                                        recorder: Recorder) -> None:
    """C-GS-1: SIGTERM app-1 with slow requests in flight and steady load through nginx: no request
    fails, the in-flight ones complete, the process exits 0, PgBouncer no longer lists its connections
    (judged when the app names its connections after its INSTANCE)."""
    with stack_factory({"app.replicas": "2"}, promises=FAST_DRAIN) as private:
        app, nemesis = private["app-1"], Nemesis(private, recorder)
        named = "db" in private.profile.capabilities() and _bouncer_clients(private, "app-1") > 0
        with ThreadPoolExecutor(4) as pool:
            slow = [pool.submit(_slow_direct, app, recorder, n, 4000) for n in range(4)]
            wait_until(lambda: _in_flight(private, app) >= 4, "4 slow requests are in flight on app-1")
            with RequestLoad(private.url, recorder, (private.profile.app.ready_path,), rate_per_s=40,
                             ca_file=private.tls.ca, headers={"X-Health-Secret": private.health_secret}):
                before = _answers(recorder)
                wait_until(lambda: _answers(recorder) >= before + 15, "the load is flowing")
                code = nemesis.terminate(app, timeout=20)
                for done in slow:
                    done.result()
            # closing is asynchronous: the last count within 5 s
            left = poll(lambda: _bouncer_clients(private, "app-1"), lambda n: n == 0, 5.0) if named else 0
    assert_holds(windows.check(recorder.history(), claim="C-GS-1"))
    assert code == 0, f"C-GS-1 violated: app-1 exited with {code} after SIGTERM, not 0 (None: still running after 20 s)"
    assert left == 0, f"C-GS-1 violated: PgBouncer still lists {left} client connection(s) of app-1 after it exited"


def test_sigint_drains_like_sigterm(stack_factory: StackFactory, recorder: Recorder) -> None:
    """C-GS-1: SIGINT (Ctrl-C, PM2's default) drains too: in-flight requests complete, exit code 0."""
    with stack_factory({"app.replicas": "1"}, promises=FAST_DRAIN) as private:
        app, nemesis = private["app-1"], Nemesis(private, recorder)
        if getattr(app, "pid", None) is None:
            pytest.skip(f"the {private.backend} backend gives no process id to send SIGINT to")
        with ThreadPoolExecutor(3) as pool:
            slow = [pool.submit(_slow_direct, app, recorder, n, 2500) for n in range(3)]
            wait_until(lambda: _in_flight(private, app) >= 3, "3 slow requests are in flight on app-1")
            nemesis.signal(app, signal.SIGINT)
            for done in slow:
                done.result()
        wait_until(lambda: not app.is_running(), "app-1 exits after SIGINT", 20.0)
        code = nemesis.terminate(app, timeout=0)  # already exited: its exit code
    assert_holds(windows.check(recorder.history(), claim="C-GS-1"))
    assert code == 0, f"C-GS-1 violated: app-1 exited with {code} after SIGINT, not 0"


def _terminated_at(recorder: Recorder) -> float:
    """When the nemesis sent SIGTERM (0.0: not yet)."""
    found = recorder.history().fault_windows("terminate")
    return found[0].start if found else 0.0


def _probe_direct(app: Service, ready_path: str, recorder: Recorder, until: float) -> None:
    """New connections, as a fresh client makes them: readiness and a new request, alternating."""
    for n in range(10_000):
        if time.monotonic() >= until:
            return
        with client_for(app.endpoint.url, timeout_s=5) as client:
            if n % 2 == 0:
                timed_request(client, recorder, "probe", "ready", ready_path, expect=(503,))
            else:
                timed_request(client, recorder, "probe", "new", "/api/new", expect=ANY_ANSWER)


def test_draining_replica_answers_503_and_never_resets(stack_factory: StackFactory, recorder: Recorder) -> None:
    """C-GS-2: from SIGTERM through the drain delay, readiness answers 503 and new requests get an answer
    (503, or served), never a refused or reset connection."""
    with stack_factory({"app.replicas": "1"}, promises={"drain_delay_ms": 2000}) as private:
        app, nemesis = private["app-1"], Nemesis(private, recorder)
        delay_s = private.profile.promises.drain_delay_ms / 1000
        with ThreadPoolExecutor(1) as pool:
            exited = pool.submit(nemesis.terminate, app, 20 + delay_s)
            signalled = wait_until(lambda: _terminated_at(recorder), "SIGTERM was sent")
            _probe_direct(app, private.profile.app.ready_path, recorder, until=signalled + 0.75 * delay_s)
            exited.result()
    history = recorder.history()
    # the signal handler needs a moment to run; the listener closes at the drain delay's end
    window = (_terminated_at(recorder) + 0.3, _terminated_at(recorder) + 0.75 * delay_s)
    assert_holds(windows.check(history, window, claim="C-GS-2", f="ready", allowed={503}))
    assert_holds(windows.check(history, window, claim="C-GS-2", f="new", allowed=None))


def test_a_drain_that_outlasts_the_kill_timeout_is_forced_to_exit(stack_factory: StackFactory,
                                                                  recorder: Recorder) -> None:
    """C-GS-3: an in-flight request longer than the kill timeout makes the drain hang; the process exits
    anyway once the kill timeout has passed (any exit code), not when the request would have finished."""
    with stack_factory({"app.replicas": "1"}, promises={"kill_timeout_ms": 2000, "drain_delay_ms": 200}) as private:
        app, nemesis = private["app-1"], Nemesis(private, recorder)
        kill_s = private.profile.promises.kill_timeout_ms / 1000
        drain_s = private.profile.promises.drain_delay_ms / 1000
        request_s = kill_s + drain_s + 10.0
        with ThreadPoolExecutor(1) as pool:
            pool.submit(_slow_direct, app, recorder, 0, int(request_s * 1000))
            wait_until(lambda: _in_flight(private, app) >= 1, "a long request is in flight on app-1")
            signalled = time.monotonic()
            code = nemesis.terminate(app, timeout=kill_s + drain_s + 8.0)
            took = time.monotonic() - signalled
    print(f"C-GS-3: exit code {code} after {took:.1f} s (kill timeout {kill_s:g} s, request {request_s:g} s)")
    assert code is not None and took < request_s - 3.0, (
        f"C-GS-3 violated: with a {request_s:g} s request in flight, app-1 was still running {took:.1f} s after "
        f"SIGTERM: no forced exit at the promised kill timeout ({kill_s:g} s)")


def _routed_to(stack: Stack, app: Service, timeout: float) -> None:
    """Wait until nginx routes the load to ``app`` again: after ``fail_timeout`` nginx tries one request
    on a replica it marked down and only a success puts it back, so one connection is not enough; the
    load spreading over several connections to the app's own port is (the fault proxy accepts on its
    listener whether or not the app is up, so only the app's side proves routing)."""
    wait_until(lambda: len(connections_to({app.endpoint.port}, stack.proc_net, states=("ESTABLISHED",))) >= 2,
          f"nginx routes to {app.name} again", timeout)


def _nginx_requests(stack: Stack) -> int:
    """nginx's own request counter (stub_status), to see that Locust's load is flowing."""
    with client_for(stack.url, stack.tls.ca, timeout_s=5) as client:
        return stub_status(client.get("/nginx-status").text)["requests"]


def test_rolling_restart_under_locust_load_has_zero_failures(stack_factory: StackFactory, recorder: Recorder) -> None:
    """C-GS-4: restart every replica in turn under steady Locust load through nginx: SIGTERM, wait for
    its exit, start it, wait until it is ready and nginx routes to it again, then the next one.
    No client request fails while the restarts run.

    nginx marks a replica down for ``fail_timeout`` after its first drain 503; restarting the next one
    before that has passed leaves no live upstream (502). The private stack shortens fail_timeout to
    keep the scenario short; the wait for routing is what makes the procedure correct.
    """
    with stack_factory({"app.replicas": "2", "nginx.fail_timeout_s": "2"}, promises=FAST_DRAIN) as private:
        spec = LoadSpec("slow_requests", private.url, users=12, duration_s=90, ca_file=private.tls.ca,
                        env={"INFRATESTS_SLOW_MS": "300", "INFRATESTS_TIMEOUT_S": "10"}, stop_timeout_s=5)
        codes, nemesis = {}, Nemesis(private, recorder)
        with LocustRun(spec, private.session.dir / "locust", on_spawn=private.session.record_group) as run:
            flowing = _nginx_requests(private)
            wait_until(lambda: _nginx_requests(private) >= flowing + 40, "Locust's load is flowing", 30.0)
            for app in [s for s in private if s.kind == "app"]:
                codes[app.name] = nemesis.terminate(app, timeout=20 + private.profile.promises.drain_delay_ms / 1000)
                nemesis.start(app)
                _routed_to(private, app, private.profile.nginx.fail_timeout_s + 15.0)
            routed = time.monotonic()
        history = History.merged(load_history(run.result.history_path), recorder.history())
    # from the first SIGTERM until nginx routes to the last replica again
    assert_holds(windows.check(history, (history.fault_window("terminate")[0], routed), claim="C-GS-4"))
    assert set(codes.values()) == {0}, f"C-GS-4 violated: replicas exited with {codes} during the rolling restart"


def _ready_then_use(app: Service, ready_path: str, recorder: Recorder, timeout: float) -> float | None:
    """Poll the replica's readiness signal; the moment it says ready, use the database through it.
    None when the process exited without ever saying ready (allowed: it claimed nothing)."""
    with client_for(app.endpoint.url, timeout_s=10) as client:
        def signalled() -> str:
            try:
                return "ready" if client.get(ready_path).status_code == 200 else ""
            except httpx.TransportError:
                return "" if app.is_running() else "exited"
        if wait_until(signalled, f"{app.name} signals ready", timeout, interval=0.01) == "exited":
            return None
        ready_at = time.monotonic()
        for n in range(3):
            timed_request(client, recorder, "user", "db", f"/db/sleep?s=0&n={n}")
    return ready_at


@pytest.mark.needs("db")
def test_replica_signals_ready_only_when_it_can_serve(stack_factory: StackFactory, recorder: Recorder) -> None:
    """C-GS-5: a replica starting while its database is unreachable says ready only once it can serve:
    requests that need the database succeed from the first moment its readiness signal is 200 (an app
    that exits instead, never saying ready, claimed nothing false)."""
    with stack_factory({"app.replicas": "1"}, promises={"acquire_timeout_ms": 1000}) as private, \
            ThreadPoolExecutor(2) as pool:
        app, nemesis = private["app-1"], Nemesis(private, recorder)
        nemesis.kill(app)
        with nemesis.down("pgbouncer"):
            starting: Future[Any] = pool.submit(nemesis.start, app)
            prober = pool.submit(_ready_then_use, app, private.profile.app.ready_path, recorder, 40.0)
            # the database stays unreachable for 4 s, unless the replica already said ready and was used
            wait([prober], timeout=4.0)
        ready_at = prober.result()
        try:
            starting.result()
        except ServiceError as exited:
            assert ready_at is None, f"C-GS-5: {exited}"
    if ready_at is None:
        print("C-GS-5: the replica exited while the database was unreachable, without saying ready")
        return
    assert_holds(windows.check(recorder.history(), (ready_at, float("inf")), claim="C-GS-5", f="db"))
