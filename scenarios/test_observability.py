"""Observability: request ids, Prometheus counters that match the traffic, errors in the tracker (C-OBS-1..3)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import httpx
import pytest

from infratests.checks import counter, unique_ids
from infratests.checks.history import OpType, Recorder
from infratests.checks.result import assert_holds
from infratests.load.workloads.metrics import scrape, value
from infratests.load.workloads.requests import client_for
from infratests.stack.sentry import SentryEvents
from infratests.stack.topology import Stack

StackFactory = Callable[..., AbstractContextManager[Stack]]

_ROUTE = {"method": "GET", "route": "/json", "status": "200"}


@pytest.fixture
def replicas(stack: Stack) -> Iterator[list[httpx.Client]]:
    """Every app replica, addressed directly (scrapes are per replica)."""
    clients = [httpx.Client(base_url=s.endpoint.url, timeout=10.0) for s in stack if s.kind == "app"]
    yield clients
    for client in clients:
        client.close()


def _log_lines(stack: Stack, since: float) -> list[dict[str, Any]]:
    lines = []
    for service in stack:
        if service.kind != "app":
            continue
        for raw in service.log_path.read_text(errors="replace").splitlines():
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            if isinstance(line, dict) and line.get("ts", 0) >= since:
                lines.append(line)
    return lines


@pytest.mark.gate
def test_request_ids_are_generated_propagated_echoed_and_logged(stack: Stack,
                                                                replicas: list[httpx.Client]) -> None:
    """C-OBS-1: a missing X-Request-ID is generated (unique), a given one is echoed through nginx,
    and every log line of the request carries it."""
    recorder = Recorder()
    for i in range(30):
        with recorder.op(i, "generate") as op:
            op.value = replicas[i % len(replicas)].get("/health").headers.get("x-request-id")
            assert op.value, "C-OBS-1: a response without X-Request-ID"
    assert_holds(unique_ids.check(recorder.history(), claim="C-OBS-1"))
    since, given = time.time() - 1.0, f"obs1-{uuid.uuid4()}"
    with client_for(stack.url, stack.tls.ca) as public:
        echoed = public.get("/api/obs1", headers={"X-Request-ID": given}).headers.get("x-request-id")
        failed = public.get("/boom", headers={"X-Request-ID": given + "-boom"})
    assert echoed == given and failed.headers.get("x-request-id") == given + "-boom", (
        f"C-OBS-1: X-Request-ID not echoed through nginx: sent {given!r}, got {echoed!r} / "
        f"{failed.headers.get('x-request-id')!r}")
    _assert_logged_with(stack, since, given + "-boom", expect={"request", "unhandled error"})


def _assert_logged_with(stack: Stack, since: float, rid: str, expect: set[str]) -> None:
    """The request's lines (its own ``request`` line and the error it logged) all carry ``rid``."""
    deadline = time.monotonic() + 5.0
    while True:
        lines = _log_lines(stack, since)
        mine = [line for line in lines if line.get("request_id") == rid]
        if expect <= {line.get("msg") for line in mine} or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    boom = [line for line in lines if line.get("path") == "/boom" or line.get("msg") == "unhandled error"]
    strays = [line for line in boom if line.get("request_id") != rid]
    assert expect <= {line.get("msg") for line in mine} and not strays, (
        f"C-OBS-1: log lines of request {rid!r}: found {[line.get('msg') for line in mine]}, "
        f"want {sorted(expect)}; lines of that request without its id: {strays[:3]}")


@pytest.mark.gate
@pytest.mark.load
def test_metrics_counters_match_the_traffic(stack: Stack, replicas: list[httpx.Client]) -> None:
    """C-OBS-2: /metrics is Prometheus text with the contract's families, and http_requests_total for a
    route stays within the bounds of the requests sent through nginx while it is scraped."""
    recorder, done = Recorder(), threading.Event()
    initial = _read_total(replicas)

    def scraper() -> None:
        while not done.is_set():
            with recorder.op("scraper", "read") as op:
                op.value = _read_total(replicas) - initial
            time.sleep(0.05)

    watcher = threading.Thread(target=scraper, daemon=True)
    watcher.start()
    with client_for(stack.url, stack.tls.ca) as public:
        threads = [threading.Thread(target=_send, args=(public, recorder, k, 25)) for k in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    with recorder.op("scraper-final", "read") as op:
        op.value = _read_total(replicas) - initial
    done.set()
    watcher.join(10)
    assert_holds(counter.check(recorder.history(), claim="C-OBS-2"))
    _assert_families(replicas[0])


def _send(public: httpx.Client, recorder: Recorder, worker: int, n: int) -> None:
    for _ in range(n):
        recorder.record(f"sender-{worker}", OpType.INVOKE, "add", 1)
        try:
            code = public.get("/json", params={"bytes": 64}).status_code
        except httpx.HTTPError as error:
            recorder.record(f"sender-{worker}", OpType.INFO, "add", 1, repr(error)[:200])
            continue
        recorder.record(f"sender-{worker}", OpType.OK if code == 200 else OpType.FAIL, "add", 1, status=code)


def _read_total(replicas: list[httpx.Client]) -> float:
    return sum(value(scrape(client), "http_requests_total", _ROUTE) for client in replicas)


def _assert_families(replica: httpx.Client) -> None:
    response = replica.get("/metrics")
    samples = scrape(replica)
    names = {name for name, _ in samples}
    pool_states = {dict(labels).get("state") for name, labels in samples if name == "db_pool_connections"}
    wanted = {"http_requests_total", "http_request_duration_seconds_bucket",
              "http_request_duration_seconds_count", "circuit_breaker_state", "db_pool_connections"}
    count = value(samples, "http_request_duration_seconds_count", {"method": "GET", "route": "/json"})
    assert response.headers.get("content-type", "").startswith("text/plain") and wanted <= names and \
        {"total", "idle", "active"} <= pool_states and count == value(samples, "http_requests_total",
                                                                     {"method": "GET", "route": "/json"}), (
        f"C-OBS-2: /metrics ({response.headers.get('content-type')}) lacks {sorted(wanted - names)}, "
        f"pool states {pool_states}, or the duration histogram count {count} disagrees with the counter")


@pytest.mark.destructive
def test_errors_reach_the_tracker_with_the_request_id(stack_factory: StackFactory) -> None:
    """C-OBS-3: an unhandled error reaches a Sentry-compatible sink, tagged with the request id."""
    rid = f"obs3-{uuid.uuid4()}"
    with stack_factory({"app.replicas": "1", "app.sentry_sink": "true"}) as s:
        sink = SentryEvents(s["sentry"])
        with httpx.Client(base_url=s["app-1"].endpoint.url, timeout=10.0) as app:
            status = app.get("/boom", headers={"X-Request-ID": rid}).status_code
        event = sink.wait_for(lambda item: item.get("tags", {}).get("request_id") == rid, timeout_s=10.0)
        received = sink.items()
    kinds = [item.get("type") or sorted(item)[:4] for item in received]
    assert status == 500 and event is not None, (
        f"C-OBS-3: GET /boom answered {status}; no tracker event tagged request_id={rid!r} "
        f"among {len(received)} items received: {kinds[:8]}")
    error = event.get("exception", {}).get("values", [{}])[-1].get("type")
    assert error and event.get("server_name") == "app-1", (
        f"C-OBS-3: the event lacks the exception or the instance: type={error!r}, "
        f"server_name={event.get('server_name')!r}")
