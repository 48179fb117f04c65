"""Health endpoints: liveness vs readiness under dependency faults, who sees details, rate limits (C-HL-1..4).

Internal vs external follows the app contract: a direct loopback caller without
proxy headers, or any caller with the right ``X-Health-Secret``, is internal;
everything through nginx (which sets ``X-Real-IP``) is external.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from infratests.stack.topology import Stack

_BRIEF = {"status", "timestamp"}
_DETAILS = {"instance", "version", "uptime_s", "memory_rss_bytes", "pid", "dependencies"}


@pytest.fixture
def replica(stack: Stack) -> Iterator[httpx.Client]:
    """app-1 addressed directly: an internal caller (loopback, no proxy headers)."""
    with httpx.Client(base_url=stack["app-1"].endpoint.url, timeout=5.0) as client:
        yield client


def _until(probe: httpx.Client, path: str, status: int, timeout_s: float) -> list[int]:
    """Poll ``path`` until it answers ``status``; every status seen (a timeout shows as 0)."""
    seen: list[int] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            seen.append(probe.get(path).status_code)
        except httpx.TimeoutException:
            seen.append(0)
        if seen[-1] == status:
            break
        time.sleep(0.1)
    return seen


@pytest.mark.gate
@pytest.mark.chaos
@pytest.mark.parametrize(("link", "dependency"), [("pgbouncer", "db"), ("redis-cache", "redis")])
def test_dependency_down_fails_ready_not_live(stack: Stack, faults: object, replica: httpx.Client,
                                              link: str, dependency: str) -> None:
    """C-HL-1, C-HL-2: with a dependency down, live and /health stay 200, ready says 503 naming it, then 200."""
    assert replica.get("/health/ready").status_code == 200, "C-HL-2: not ready before the fault"
    with faults.down(link):  # type: ignore[attr-defined]
        ready = _until(replica, "/health/ready", 503, timeout_s=4.0)
        failing = replica.get("/health/ready", timeout=5.0).json().get("failing") if ready[-1] == 503 else None
        live = [replica.get(path).status_code for path in ("/health/live", "/health") for _ in range(3)]
    recovered = _until(replica, "/health/ready", 200, timeout_s=15.0)
    assert set(live) == {200}, f"C-HL-1: with {link} down, /health/live and /health answered {live}"
    assert ready[-1] == 503 and dependency in (failing or []), (
        f"C-HL-2: with {link} down, /health/ready answered {ready} (failing {failing}), not a prompt "
        f"503 naming {dependency!r}")
    assert recovered[-1] == 200, f"C-HL-2: /health/ready did not return to 200 after healing: {recovered}"


@pytest.mark.gate
def test_only_internal_callers_see_details(stack: Stack, https: httpx.Client, replica: httpx.Client) -> None:
    """C-HL-3: external callers get status + timestamp only; internal or secret-holding ones get details;
    the secret never shows in responses or logs."""
    secret, tag = stack.health_secret, {"X-Real-IP": f"198.51.100.{uuid.uuid4().int % 250 + 1}"}
    external = https.get("/health/detailed").json()
    wrong = https.get("/health/detailed", headers={"X-Health-Secret": secret[::-1]}).json()
    spoofed = replica.get("/health/detailed", headers=tag).json()
    internal = replica.get("/health/detailed").json()
    with_secret = https.get("/health/detailed", headers={"X-Health-Secret": secret})
    leaks = {name: set(body) - _BRIEF for name, body in
             (("external", external), ("wrong-secret", wrong), ("proxied", spoofed)) if set(body) != _BRIEF}
    assert not leaks, f"C-HL-3: external callers saw more than status+timestamp: {leaks}"
    missing = {name: _DETAILS - set(body) for name, body in
               (("internal", internal), ("secret", with_secret.json())) if not _DETAILS <= set(body)}
    assert not missing, f"C-HL-3: internal callers did not get the details: missing {missing}"
    in_logs = [s.name for s in stack if s.kind == "app" and secret in s.log_path.read_text(errors="replace")]
    assert secret not in with_secret.text and not in_logs, (
        f"C-HL-3: the health secret appeared in a response or in the logs of {in_logs}")


@pytest.mark.gate
def test_external_health_callers_are_rate_limited(stack: Stack, replica: httpx.Client) -> None:
    """C-HL-4: an external client gets 429 after its 30/min burst; internal callers are never limited."""
    client_ip = f"203.0.113.{uuid.uuid4().int % 250 + 1}"  # a bucket of its own (shared stack)
    external = [replica.get("/health", headers={"X-Real-IP": client_ip}) for _ in range(40)]
    internal = [replica.get("/health").status_code for _ in range(60)]
    secret = [replica.get("/health", headers={"X-Real-IP": client_ip,
                                              "X-Health-Secret": stack.health_secret}).status_code
              for _ in range(20)]
    codes = [r.status_code for r in external]
    allowed = codes.count(200)
    limited = [r for r in external if r.status_code == 429]
    assert 30 <= allowed <= 33 and limited and all(r.headers.get("retry-after") for r in limited), (
        f"C-HL-4: 40 quick external /health calls: {allowed} allowed, {len(limited)} limited "
        f"(want 30..33 allowed, then 429 with Retry-After): {codes}")
    assert set(internal) == {200} and set(secret) == {200}, (
        f"C-HL-4: internal callers were limited: direct {sorted(set(internal))}, with secret {sorted(set(secret))}")
