"""Health endpoints: liveness vs readiness under dependency faults, who sees details, rate limits (C-HL-1..4).

Internal vs external follows the app contract: a direct loopback caller without
proxy headers, or any caller with the right ``X-Health-Secret``, is internal;
everything through nginx (which sets ``X-Real-IP`` and ``X-Forwarded-For``) is
external. Scenarios that play an external client send both headers, as nginx does.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from infratests.faults.nemesis import Nemesis
from infratests.history import Recorder
from infratests.load.workloads.requests import timed_request
from infratests.stack.topology import Stack
from infratests.wait import poll

_BRIEF = {"status", "timestamp"}
_DEPENDENCIES = [pytest.param("pgbouncer", marks=pytest.mark.needs("db"), id="db"),
                 pytest.param("redis-cache", marks=pytest.mark.needs("redis_cache"), id="redis")]


def _proxied_as(client_ip: str) -> dict[str, str]:
    """The headers nginx adds for a client at ``client_ip``: an external caller."""
    return {"X-Real-IP": client_ip, "X-Forwarded-For": client_ip}


@pytest.fixture
def replica(stack: Stack) -> Iterator[httpx.Client]:
    """app-1 addressed directly: an internal caller (loopback, no proxy headers)."""
    if "app-1" not in stack.services:
        pytest.skip("needs an app replica's direct URL (external.replicas)")
    with httpx.Client(base_url=stack["app-1"].endpoint.url, timeout=5.0) as client:
        yield client


def _until(probe: httpx.Client, recorder: Recorder, path: str, status: int, timeout_s: float) -> list[int]:
    """Poll ``path`` (each probe recorded) until it answers ``status``; every status seen (0: no answer)."""
    seen: list[int] = []

    def answered() -> bool:
        answer = timed_request(probe, recorder, "probe", path, path, expect=(status,))
        seen.append(answer.status_code if answer is not None else 0)
        return seen[-1] == status
    poll(answered, bool, timeout_s, interval=0.1)
    return seen


@pytest.mark.gate
@pytest.mark.chaos
@pytest.mark.needs("health")
@pytest.mark.parametrize("link", ["pgbouncer", "redis-cache"], ids=["db", "redis"])
def test_liveness_survives_a_dependency_outage(faults: Nemesis, recorder: Recorder, replica: httpx.Client,
                                               link: str) -> None:
    """C-HL-1: with the database or Redis down, /health/live and /health keep answering 200."""
    with faults.down(link):
        time.sleep(0.5)  # a check that would notice the outage has had time to
        answers = [timed_request(replica, recorder, "probe", path, path)
                   for path in ("/health/live", "/health") for _ in range(3)]
    live = [answer.status_code if answer is not None else 0 for answer in answers]
    assert set(live) == {200}, f"C-HL-1 violated: with {link} down, /health/live and /health answered {live}"


@pytest.mark.gate
@pytest.mark.chaos
@pytest.mark.needs("health")
@pytest.mark.parametrize("link", _DEPENDENCIES)
def test_readiness_follows_its_dependencies(faults: Nemesis, recorder: Recorder, replica: httpx.Client,
                                            link: str) -> None:
    """C-HL-2: with a dependency down, /health/ready answers 503 promptly, and 200 again after it returns."""
    before = _until(replica, recorder, "/health/ready", 200, timeout_s=15.0)
    assert before[-1] == 200, f"C-HL-2: the replica was not ready before the fault: {before}"
    with faults.down(link):
        ready = _until(replica, recorder, "/health/ready", 503, timeout_s=4.0)
        body = replica.get("/health/ready", timeout=5.0).text[:200] if ready[-1] == 503 else ""
    recovered = _until(replica, recorder, "/health/ready", 200, timeout_s=15.0)
    assert ready[-1] == 503, (f"C-HL-2 violated: with {link} down, /health/ready answered {ready} "
                              "(0: no answer within 5 s), not a prompt 503")
    assert recovered[-1] == 200, (f"C-HL-2 violated: /health/ready did not return to 200 after {link} came "
                                  f"back: {recovered} (while down it said {body!r})")


@pytest.mark.live_safe
@pytest.mark.gate
@pytest.mark.needs("health_details")
def test_only_internal_callers_see_details(stack: Stack, https: httpx.Client, replica: httpx.Client) -> None:
    """C-HL-3: external callers get status + timestamp only; internal or secret-holding ones get details;
    the secret never shows in responses or logs."""
    secret = stack.health_secret
    external = https.get("/health/detailed").json()
    wrong = https.get("/health/detailed", headers={"X-Health-Secret": secret[::-1]}).json()
    proxied = replica.get("/health/detailed", headers=_proxied_as(f"198.51.100.{uuid.uuid4().int % 250 + 1}")).json()
    internal = replica.get("/health/detailed").json()
    with_secret = https.get("/health/detailed", headers={"X-Health-Secret": secret})
    leaks = {name: sorted(set(body) - _BRIEF) for name, body in
             (("external", external), ("wrong-secret", wrong), ("proxied", proxied)) if set(body) != _BRIEF}
    assert not leaks, f"C-HL-3 violated: external callers saw more than status+timestamp: {leaks}"
    thin = {name: sorted(body) for name, body in (("internal", internal), ("secret", with_secret.json()))
            if len(set(body) - _BRIEF) < 2}
    assert not thin, f"C-HL-3 violated: internal callers did not get the details (uptime, memory, ...): {thin}"
    in_logs = [s.name for s in stack if s.kind == "app" and secret in s.logs(100_000)]
    assert secret not in with_secret.text and not in_logs, (
        f"C-HL-3 violated: the health secret appeared in a response or in the logs of {in_logs}")


@pytest.mark.live_safe
@pytest.mark.gate
@pytest.mark.needs("health_rate_limit")
def test_external_health_callers_are_rate_limited(stack: Stack, replica: httpx.Client) -> None:
    """C-HL-4: an external client gets 429 after its promised calls per minute; internal callers are
    never limited."""
    limit = stack.profile.promises.health_rate_per_min
    external = _proxied_as(f"203.0.113.{uuid.uuid4().int % 250 + 1}")  # a bucket of its own (shared stack)
    answers = [replica.get("/health", headers=external) for _ in range(limit + 10)]
    internal = [replica.get("/health").status_code for _ in range(2 * limit)]
    secret = [replica.get("/health", headers={**external, "X-Health-Secret": stack.health_secret}).status_code
              for _ in range(limit // 2)]
    codes = [r.status_code for r in answers]
    allowed = codes.count(200)
    limited = [r for r in answers if r.status_code == 429]
    assert limit <= allowed <= limit + 3 and limited and all(r.headers.get("retry-after") for r in limited), (
        f"C-HL-4 violated: {limit + 10} quick external /health calls: {allowed} allowed, {len(limited)} limited "
        f"(promised {limit}/min: want {limit}..{limit + 3} allowed, then 429 with Retry-After): {codes}")
    assert set(internal) == {200} and set(secret) == {200}, (
        f"C-HL-4 violated: internal callers were limited: direct {sorted(set(internal))}, "
        f"with secret {sorted(set(secret))}")
