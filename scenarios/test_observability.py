"""Observability: request ids, Prometheus counters that match the traffic, errors in the tracker (C-OBS-1..3)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from infratests.checks import counter, unique_ids
from infratests.checks.result import assert_holds
from infratests.history import OpType, Recorder
from infratests.load.workloads.metrics import Samples, request_count, scrape
from infratests.load.workloads.requests import client_for
from infratests.plugin import StackFactory
from infratests.stack.sentry import SentryEvents
from infratests.stack.topology import Stack
from infratests.wait import poll


@pytest.fixture
def replicas(stack: Stack) -> Iterator[list[httpx.Client]]:
    """Every app replica, addressed directly (scrapes are per replica)."""
    if not any(s.kind == "app" for s in stack):
        pytest.skip("needs the app replicas' direct URLs (external.replicas)")
    clients = [httpx.Client(base_url=s.endpoint.url, timeout=10.0) for s in stack if s.kind == "app"]
    yield clients
    for client in clients:
        client.close()


def _internal(stack: Stack) -> dict[str, str]:
    """Through nginx with the health secret: internal, so no health rate limit gets in the way."""
    return {"X-Health-Secret": stack.health_secret}


@pytest.mark.live_safe
@pytest.mark.gate
@pytest.mark.needs("request_ids")
def test_request_ids_are_generated_propagated_echoed_and_logged(stack: Stack,
                                                                replicas: list[httpx.Client]) -> None:
    """C-OBS-1: a missing X-Request-ID is generated (unique), a given one is echoed through nginx,
    and the request's log lines carry it."""
    recorder, path = Recorder(), stack.profile.app.ready_path
    for i in range(30):
        with recorder.op(i, "generate") as op:
            op.value = replicas[i % len(replicas)].get(path).headers.get("x-request-id")
            assert op.value, "C-OBS-1 violated: a response without X-Request-ID"
    assert_holds(unique_ids.check(recorder.history(), claim="C-OBS-1"))
    given = f"obs1-{uuid.uuid4()}"
    with client_for(stack.url, stack.tls.ca) as public:
        echoed = public.get(path, headers={"X-Request-ID": given, **_internal(stack)}).headers.get("x-request-id")
    assert echoed == given, f"C-OBS-1 violated: X-Request-ID not echoed through nginx: sent {given!r}, got {echoed!r}"
    if stack.external:
        return  # the app's log is the environment's own: the echo is what can be seen from outside
    logged = poll(lambda: [line for s in stack if s.kind == "app" for line in s.logs(5000).splitlines()
                           if given in line], bool, 5.0, interval=0.1)
    assert logged, f"C-OBS-1 violated: no log line of the app carries the request's id {given!r}"


@pytest.mark.live_safe
@pytest.mark.gate
@pytest.mark.load
@pytest.mark.needs("metrics")
def test_metrics_counters_match_the_traffic(stack: Stack, replicas: list[httpx.Client]) -> None:
    """C-OBS-2: /metrics is Prometheus text with the contract's families, and http_requests_total for the
    ready path stays within the bounds of the requests sent through nginx while it is scraped."""
    path, recorder, done = stack.profile.app.ready_path, Recorder(), threading.Event()
    initial = _read_total(replicas, path)

    def scraper() -> None:
        while not done.is_set():
            with recorder.op("scraper", "read") as op:
                op.value = _read_total(replicas, path) - initial
            time.sleep(0.05)

    watcher = threading.Thread(target=scraper, daemon=True)
    watcher.start()
    with client_for(stack.url, stack.tls.ca) as public:
        threads = [threading.Thread(target=_send, args=(public, recorder, k, 25, path, _internal(stack)))
                   for k in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    with recorder.op("scraper-final", "read") as op:
        op.value = _read_total(replicas, path) - initial
    done.set()
    watcher.join(10)
    assert_holds(counter.check(recorder.history(), claim="C-OBS-2"))
    _assert_families(stack, replicas[0], path)


def _send(public: httpx.Client, recorder: Recorder, worker: int, n: int, path: str,
          headers: dict[str, str]) -> None:
    for _ in range(n):
        recorder.record(f"sender-{worker}", OpType.INVOKE, "add", 1)
        try:
            code = public.get(path, headers=headers).status_code
        except httpx.HTTPError as error:
            recorder.record(f"sender-{worker}", OpType.INFO, "add", 1, repr(error)[:200])
            continue
        recorder.record(f"sender-{worker}", OpType.OK if code == 200 else OpType.FAIL, "add", 1, status=code)


def _read_total(replicas: list[httpx.Client], path: str) -> float:
    return sum(request_count(scrape(client), path) for client in replicas)


def _assert_families(stack: Stack, replica: httpx.Client, path: str) -> None:
    response = replica.get("/metrics")
    samples: Samples = scrape(replica)
    names = {name for name, _ in samples}
    wanted = {"http_requests_total", "http_request_duration_seconds_bucket", "http_request_duration_seconds_count"}
    capabilities = stack.profile.capabilities()
    if "breaker" in capabilities:
        wanted.add("circuit_breaker_state")
    pool = {dict(labels).get("state") for name, labels in samples if name == "db_pool_connections"} | {
        name.rsplit("_", 1)[1] for name in names if name.rsplit("_", 2)[0] in ("db_pool", "database_pool")}
    missing_pool = {"total", "idle", "active"} - pool if "db" in capabilities else set()
    timed = request_count(samples, path, "http_request_duration_seconds_count", status=None)
    counted = request_count(samples, path, status=None)
    assert response.headers.get("content-type", "").startswith("text/plain") and wanted <= names \
        and not missing_pool and timed == counted, (
            f"C-OBS-2 violated: /metrics ({response.headers.get('content-type')}) lacks {sorted(wanted - names)}, "
            f"pool states {sorted(missing_pool)}, or the duration histogram's count {timed} for GET {path} "
            f"disagrees with http_requests_total's {counted}")


@pytest.mark.destructive
@pytest.mark.needs("error_tracking")
def test_errors_reach_the_tracker_with_the_request_id(stack_factory: StackFactory) -> None:
    """C-OBS-3: an unhandled error reaches a Sentry-compatible sink, with the request id in the event."""
    rid = f"obs3-{uuid.uuid4()}"
    with stack_factory({"app.replicas": "1", "app.sentry_sink": "true"}) as s:
        sink = SentryEvents(s["sentry"])
        with httpx.Client(base_url=s["app-1"].endpoint.url, timeout=10.0) as app:
            status = app.get("/boom", headers={"X-Request-ID": rid}).status_code
        event = sink.wait_for(lambda item: "exception" in item and rid in json.dumps(item), timeout_s=10.0)
        received = sink.items()
    kinds = [item.get("type") or sorted(item)[:4] for item in received]
    assert status == 500 and event is not None, (
        f"C-OBS-3 violated: GET /boom answered {status}; no tracker event with an exception and the request "
        f"id {rid!r} among {len(received)} items received: {kinds[:8]}")
