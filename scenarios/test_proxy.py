"""The reverse proxy (C-NGX-1..7): what nginx promises to clients, checked from the outside.

Each scenario talks to the stack's public listeners with a real client (httpx
with HTTP/2, raw TLS sockets, a WebSocket client) and checks one claim. The
upstream side is observed on the wire: the TCP sockets connected to the app
replicas' ports (``/proc/net/tcp``) are the upstream connections nginx opened
(each passes the fault proxy 1:1). They work with any app: the paths they use
are the app's ready path (with the health secret, so no health rate limit
interferes) and paths an app need not know (any answer below 500 counts).
"""

from __future__ import annotations

import socket
import ssl
import time
import warnings
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from infratests.checks import windows
from infratests.checks.result import assert_holds
from infratests.faults.nemesis import Nemesis
from infratests.history import Recorder
from infratests.load.workloads.requests import RequestLoad, client_for
from infratests.plugin import StackFactory
from infratests.stack.effective import broken_promise, nginx_config
from infratests.stack.nginx_config import ZONE_LOCATIONS, NginxConfig
from infratests.stack.sockets import connections_to
from infratests.stack.topology import Stack
from infratests.wait import wait_until

ONE_YEAR_S = 31_536_000


def _internal(stack: Stack) -> dict[str, str]:
    return {"X-Health-Secret": stack.health_secret}


def _host_port(stack: Stack) -> tuple[str, int]:
    endpoint = stack["nginx"].endpoint
    return endpoint.host, endpoint.port


@pytest.mark.live_safe
@pytest.mark.gate
def test_http2_on_tls_and_plain_http_redirects_to_https(stack: Stack, https: httpx.Client) -> None:
    """C-NGX-1: ALPN picks h2 on the TLS listener; the plain listener answers 301 to the same path on https."""
    path = stack.profile.app.ready_path
    answered = https.get(path, headers=_internal(stack))
    assert answered.status_code == 200, f"C-NGX-1: GET {path} answered {answered.status_code}"
    assert answered.http_version == "HTTP/2", (
        f"C-NGX-1 violated: TLS listener negotiated {answered.http_version}, not h2")
    plain = stack["nginx"].endpoint.extra["http"]
    redirected = httpx.get(f"{plain}/api/redirect?x=1", follow_redirects=False, timeout=10)
    location = redirected.headers.get("location", "")
    target = urlsplit(location)
    assert redirected.status_code in (301, 308) and target.scheme == "https", (
        f"C-NGX-1 violated: plain HTTP answered {redirected.status_code} Location {location!r}, "
        "not a redirect to https")
    assert (target.port or 443, target.path, target.query) == (stack["nginx"].endpoint.port, "/api/redirect", "x=1"), (
        f"C-NGX-1 violated: redirect goes to {location!r}, not to the same path on the TLS listener")


def _handshake(stack: Stack, version: ssl.TLSVersion) -> str:
    """Offer exactly ``version``; the negotiated version, or the TLS error's reason."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(str(stack.tls.ca))
    # OpenSSL 3 will not even offer TLS 1.0/1.1 at its default security level.
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    with warnings.catch_warnings():  # TLS 1.0/1.1 are deprecated: offering them is the point
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = context.maximum_version = version
    host, port = _host_port(stack)
    with socket.create_connection((host, port), timeout=10) as raw:
        try:
            with context.wrap_socket(raw, server_hostname=host) as tls:
                return str(tls.version())
        except ssl.SSLError as error:
            return str(error.reason)


@pytest.mark.live_safe
@pytest.mark.gate
def test_only_tls_1_2_and_1_3_are_accepted(stack: Stack) -> None:
    """C-NGX-5: TLS 1.2 and 1.3 handshake; TLS 1.0 and 1.1 are refused by the server (protocol_version alert)."""
    outcomes = {version.name: _handshake(stack, version) for version in
                (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1, ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3)}
    assert outcomes["TLSv1_2"] == "TLSv1.2" and outcomes["TLSv1_3"] == "TLSv1.3", (
        f"C-NGX-5 violated: TLS 1.2/1.3 must be accepted: {outcomes}")
    refused = {name: outcomes[name] for name in ("TLSv1", "TLSv1_1")}
    # The alert proves the server refused: a client-side refusal would be NO_PROTOCOLS_AVAILABLE.
    assert set(refused.values()) == {"TLSV1_ALERT_PROTOCOL_VERSION"}, (
        f"C-NGX-5 violated: TLS 1.0/1.1 must be refused by the server with a protocol_version alert: {refused}")


@pytest.mark.live_safe
@pytest.mark.gate
@pytest.mark.needs("static")
def test_gzip_from_the_threshold_up_with_vary(stack: Stack, https: httpx.Client) -> None:
    """C-NGX-2: JSON bodies >= 1024 bytes are gzipped, smaller ones not; Vary: Accept-Encoding."""
    threshold = stack.profile.promises.gzip_min_length
    broken = broken_promise(stack, "nginx.gzip_min_length")
    seen = {}
    for size in (threshold - 200, threshold - 24, threshold + 24, 8 * threshold):
        answer = https.get(f"/json?bytes={size}", headers={"Accept-Encoding": "gzip"})
        assert answer.status_code == 200, f"C-NGX-2 violated: /json?bytes={size} answered {answer.status_code}"
        seen[size] = (answer.headers.get("content-encoding"), answer.headers.get("vary", ""))
    wrong = {size: got for size, got in seen.items()
             if (got[0] == "gzip") != (size >= threshold)
             or (size >= threshold and "accept-encoding" not in got[1].lower())}
    assert not wrong and not broken, (f"C-NGX-2 violated: gzip must start at the promised {threshold} bytes with Vary: "
                       f"Accept-Encoding; (content-encoding, vary) per body size: {seen}"
                       + (f"; {broken}" if broken else ""))


def _in_parallel(stack: Stack, workers: int, requests: int,
                 job: Callable[[httpx.Client, int], Any]) -> list[Any]:
    """``job(client, n)`` for n in range(requests), spread over ``workers`` threads, one client each.

    One client per thread: an HTTP/2 connection shared across threads corrupts its HPACK state.
    """
    def worker(index: int) -> list[Any]:
        with client_for(stack.url, stack.tls.ca) as client:
            return [job(client, n) for n in range(index, requests, workers)]

    with ThreadPoolExecutor(workers) as pool:
        return [result for part in pool.map(worker, range(workers)) for result in part]


def _upstream_ports(stack: Stack) -> set[int]:
    """Where nginx connects to reach the replicas (the fault proxy's listeners, or the apps)."""
    return {stack.link("nginx", s.name).port for s in stack if s.kind == "app"}


@pytest.mark.gate
def test_upstream_keepalive_reuses_few_connections(stack: Stack) -> None:
    """C-NGX-3: 150 client requests (4 clients at a time) reach the replicas over a few reused connections,
    counted on the wire: every socket nginx connected to a replica's port during the burst."""
    ports, proc_net = _upstream_ports(stack), stack.proc_net
    before = connections_to(ports, proc_net)
    seen: set[tuple[int, int]] = set()
    with ThreadPoolExecutor(1) as pool:
        burst = pool.submit(_in_parallel, stack, 4, 150, lambda client, n: client.get(f"/api/keepalive/{n}"))
        while not burst.done():
            seen |= connections_to(ports, proc_net)
            time.sleep(0.01)
        answers = burst.result()
    opened = (seen | connections_to(ports, proc_net)) - before
    served = sum(1 for answer in answers if answer.status_code < 500)
    assert served >= 100, f"C-NGX-3: only {served} of 150 requests were answered below 500"
    broken = broken_promise(stack, "nginx.keepalive")
    assert len(opened) <= 12 and not broken, (
        f"C-NGX-3 violated: {served} requests used {len(opened)} new upstream connections; keepalive "
        "should reuse a few" + (f"; {broken}" if broken else ""))


def _burst(stack: Stack, path: str, requests: int, workers: int = 8) -> tuple[Counter[int], float]:
    """Fire ``requests`` GETs as fast as ``workers`` clients can; statuses and seconds taken.

    The app may not know the paths: any answer below 500 passed the zone."""
    started = time.monotonic()
    statuses = Counter(_in_parallel(stack, workers, requests,
                                    lambda client, n: client.get(f"{path}{n}").status_code))
    return statuses, time.monotonic() - started


def _burst_of(config: NginxConfig | None, prefix: str) -> float:
    """The burst nginx allows over a zone's rate on the location serving ``prefix`` (0 when none;
    unbounded when the configuration cannot be read: a live environment's)."""
    if config is None:
        return float("inf")
    limit = config.limit_for(prefix)
    return int(dict(arg.split("=", 1) for arg in limit.args if "=" in arg).get("burst", 0)) if limit else 0


def _health_during(https: httpx.Client, stack: Stack, burst: Callable[[], Any]) -> tuple[Any, list[int]]:
    """Run ``burst`` while probing the ready path through nginx (as an internal caller: no app-side limit)."""
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(burst)
        probes: list[int] = []
        while not running.done() or not probes:
            probes.append(https.get(stack.profile.app.ready_path, headers=_internal(stack)).status_code)
        return running.result(), probes


@pytest.mark.live_safe
@pytest.mark.gate
def test_rate_limit_zones_answer_429_beyond_their_rate_and_spare_health(stack: Stack,
                                                                        https: httpx.Client) -> None:
    """C-NGX-4: the promised zones (auth 10 r/s, webhook 50 r/s, api 100 r/s, each with nginx's burst)
    reject the excess with 429; health passes. The effective rates are shown beside the observation."""
    promises, config = stack.profile.promises, nginx_config(stack)
    zones = {"auth": ("/auth/burst/", promises.rate_auth_rps, 60),
             "webhook": ("/webhooks/burst/", promises.rate_webhook_rps, 160),
             "api": ("/api/burst/", promises.rate_api_rps, 3 * stack.profile.nginx.rate_api_burst + 300)}
    health: list[int] = []
    for zone, (path, rate, requests) in zones.items():
        burst = _burst_of(config, ZONE_LOCATIONS[zone])
        (statuses, seconds), probes = _health_during(https, stack, partial(_burst, stack, path, requests))
        health += probes
        allowed = burst + 1 + rate * seconds * 1.25 + 5  # nginx counts in ms; 25 % slack for timing
        limited = statuses[429] + statuses[503]  # limit_req_status 429, or nginx's default 503
        passed = sum(n for status, n in statuses.items() if status < 500 and status != 429)
        broken = broken_promise(stack, f"nginx.rate_{zone}_rps")
        if not limited or passed > allowed or limited + passed < requests or broken:
            pytest.fail(f"C-NGX-4 violated: zone {zone} (promised {rate} r/s, burst {burst}) must answer 429 beyond "
                        f"its rate: {requests} requests in {seconds:.2f} s got {dict(statuses)}, at most "
                        f"{int(allowed)} may pass" + (f"; {broken}" if broken else ""))
    # the zones' buckets drain at their rate; let them empty so later tests start from a calm proxy
    time.sleep(stack.profile.nginx.rate_api_burst / promises.rate_api_rps)
    assert set(health) == {200}, f"C-NGX-4 violated: health checks during the bursts were starved: {Counter(health)}"


def _security_header_findings(headers: httpx.Headers) -> tuple[list[str], list[str]]:
    """The security headers judged by their specs: (problems, notes), each quoting the exact text.

    HSTS: only the first header counts (RFC 6797, 8.1); X-Frame-Options: repeated values count
    once when identical, differing ones make it invalid (HTML, "the X-Frame-Options header");
    X-Content-Type-Options: its first value counts (Fetch); several CSP headers are all enforced.
    """
    problems, notes = [], []
    for name in ("strict-transport-security", "x-frame-options", "x-content-type-options", "content-security-policy"):
        sent = headers.get_list(name)
        if len(sent) > 1:
            notes.append(f"{name} sent {len(sent)} times: {sent!r} (set it in one place: the app or the proxy)")
    hsts = headers.get_list("strict-transport-security")
    if not hsts or "max-age=" not in hsts[0].lower() or "max-age=0" in hsts[0].replace(" ", ""):
        problems.append(f"Strict-Transport-Security {hsts!r}: the first one must carry a max-age")
    frames = {value.strip().lower() for header in headers.get_list("x-frame-options") for value in header.split(",")}
    if frames != {"sameorigin"}:
        problems.append(f"X-Frame-Options {headers.get_list('x-frame-options')!r}: want SAMEORIGIN"
                        + (" (differing values make it invalid)" if len(frames) > 1 else ""))
    sniff = headers.get_list("x-content-type-options")
    if not sniff or sniff[0].split(",")[0].strip().lower() != "nosniff":
        problems.append(f"X-Content-Type-Options {sniff!r}: want nosniff")
    if not headers.get_list("content-security-policy"):
        problems.append("Content-Security-Policy missing")
    xss = headers.get_list("x-xss-protection")
    if any(value.strip() != "0" for value in xss):
        problems.append(f"X-XSS-Protection {xss!r}: the deprecated filter must not be enabled (absent, or 0)")
    return problems, notes


@pytest.mark.live_safe
@pytest.mark.gate
def test_security_headers_present_and_x_xss_protection_absent(stack: Stack, https: httpx.Client) -> None:
    """C-NGX-5: HSTS, X-Frame-Options SAMEORIGIN, X-Content-Type-Options nosniff, CSP on success and error;
    no X-XSS-Protection filter."""
    for path, headers in ((stack.profile.app.ready_path, _internal(stack)), ("/no-such-page", {})):
        problems, notes = _security_header_findings(https.get(path, headers=headers).headers)
        for note in notes:
            print(f"C-NGX-5 note: GET {path}: {note}")
        assert not problems, f"C-NGX-5 violated: GET {path}: {'; '.join(problems + notes)}"


@pytest.mark.destructive
@pytest.mark.chaos
def test_killed_replica_is_routed_around_without_client_errors(stack_factory: StackFactory,
                                                              recorder: Recorder) -> None:
    """C-NGX-6: SIGKILL app-1 under steady GET load; nginx retries on app-2, no client sees an error
    from the kill on (app-1 stays down)."""
    with stack_factory({"app.replicas": "2"}) as private:
        with RequestLoad(private.url, recorder, (private.profile.app.ready_path,), rate_per_s=60, workers=4,
                         ca_file=private.tls.ca, headers=_internal(private)):
            _wait_for_answers(recorder, 30)
            Nemesis(private, recorder).kill("app-1")
            _wait_for_answers(recorder, 120)
    assert_holds(windows.check(recorder.history(), claim="C-NGX-6", fault="crash", target="app-1"))


def _wait_for_answers(recorder: Recorder, more: int, timeout: float = 30.0) -> None:
    """Block until ``more`` further requests completed (the load, not a clock, paces the scenario)."""
    def answered() -> int:
        return len(recorder.history().client_ops().completions())
    target = answered() + more
    wait_until(lambda: answered() >= target, f"{more} more answers (the load stalled)", timeout)


@pytest.mark.live_safe
@pytest.mark.gate
@pytest.mark.needs("websocket")
def test_websocket_upgrade_through_the_proxy(stack: Stack) -> None:
    """C-NGX-6: a WebSocket handshake through nginx's TLS listener succeeds and frames echo both ways."""
    from websockets.exceptions import WebSocketException
    from websockets.sync.client import connect

    context = ssl.create_default_context(cafile=str(stack.tls.ca))
    url = stack.url.replace("https://", "wss://") + "/ws"
    try:
        with connect(url, ssl=context, open_timeout=10, close_timeout=5) as ws:
            ws.send("ping text")
            text = ws.recv(timeout=10)
            ws.send(b"\x00ping bytes")
            data = ws.recv(timeout=10)
    except (WebSocketException, OSError) as error:
        pytest.fail(f"C-NGX-6 violated: WebSocket upgrade through nginx failed: {error!r}")
    assert (text, data) == ("ping text", b"\x00ping bytes"), f"C-NGX-6 violated: echo came back as {(text, data)!r}"


@pytest.mark.live_safe
@pytest.mark.gate
@pytest.mark.needs("static")
def test_static_assets_are_cached_long_and_immutable(https: httpx.Client) -> None:
    """C-NGX-7: /static/* carries Cache-Control public, immutable, max-age >= one year."""
    answer = https.get("/static/app.css")
    assert answer.status_code == 200, f"C-NGX-7 violated: /static/app.css answered {answer.status_code}"
    directives = {part.strip().split("=")[0]: part.strip() for part in
                  answer.headers.get("cache-control", "").lower().split(",") if part.strip()}
    max_age = int(directives.get("max-age", "max-age=0").split("=")[1])
    assert {"public", "immutable"} <= set(directives) and max_age >= ONE_YEAR_S, (
        f"C-NGX-7 violated: /static/app.css Cache-Control is {answer.headers.get('cache-control')!r}; "
        f"want public, immutable, max-age >= {ONE_YEAR_S}")
