"""An infratests scenario of your own, next to the built-in ones (`infratests gate` runs those).

Run it with `pytest tests/infra` from your repository: the plugin starts the stack your
infratests.toml describes (nginx -> your app -> PgBouncer -> Postgres, Redis) once per session.
docs/writing-scenarios.md in the infratests package explains the fixtures, the fault API,
histories and checkers.
"""

from __future__ import annotations

import time

import httpx

from infratests.checks import windows
from infratests.checks.result import assert_holds
from infratests.faults.nemesis import Nemesis
from infratests.history import Recorder
from infratests.load.workloads.requests import RequestLoad
from infratests.stack.topology import Stack


def test_ready_path_answers_over_http2_through_the_proxy(stack: Stack, https: httpx.Client) -> None:
    """Your readiness path answers 200 through nginx, on HTTP/2."""
    answer = https.get(stack.profile.app.ready_path, headers={"X-Health-Secret": stack.health_secret})
    assert answer.status_code == 200 and answer.http_version == "HTTP/2", (answer.status_code, answer.http_version)


def test_readiness_keeps_answering_while_the_database_is_slow(stack: Stack, faults: Nemesis,
                                                              recorder: Recorder) -> None:
    """With 100 ms of latency between PgBouncer and Postgres, no readiness probe fails.

    The load and the fault are recorded in one history (every request: invoke, then ok / fail /
    info; the fault: when it began and was healed) and the windows checker judges every request
    that overlapped the fault.
    """
    replica = stack["app-1"].endpoint.url  # direct and internal: no rate limit on health checks
    with RequestLoad(replica, recorder, (stack.profile.app.ready_path,), rate_per_s=20, workers=2):
        time.sleep(1.0)
        with faults.latency("postgres", ms=100):
            time.sleep(2.0)
        time.sleep(1.0)
    assert_holds(windows.check(recorder.history(), claim="readiness-under-latency", fault="latency"))
