"""The Locust runner end to end against a real target: results, complete histories, deadlines, stop."""

from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

from infratests.history import OpType
from infratests.load.history import history_files, read_rows
from infratests.load.runner import LoadSpec, LocustRun, run_load

HERE = Path(__file__).resolve().parent
TARGET_USERS = HERE / "locustfiles" / "target_users.py"
FOREVER_SHAPE = HERE / "locustfiles" / "forever_shape.py"


def _history_matches_stats(result_requests: int, history_path: Path) -> None:
    assert len(read_rows(history_path)) == result_requests > 0


def test_mixed_run_results_and_complete_history(target: str, tmp_path: Path) -> None:
    result = run_load(LoadSpec(TARGET_USERS, target, users=3, duration_s=3, user_classes=("MixedUser",),
                               rate_per_user=30), tmp_path)
    assert result.source == "locust" and not result.deadline_hit
    assert result.exit_code == 1  # Locust exits 1 when requests failed
    assert {e.name for e in result.endpoints} == {"/fast", "/error", "/reset"}
    assert result.endpoint("/error").failures == result.endpoint("/error").requests > 0
    assert result.endpoint("/fast").failures == 0
    assert result.p50_ms <= result.p95_ms <= result.p99_ms
    assert result.rps > 0 and result.log_path.read_text().count("Shutting down") == 1
    _history_matches_stats(result.requests, result.history_path)
    kinds = Counter((op.f, op.type) for op in result.history().completions())
    assert set(kinds) == {("/fast", OpType.OK), ("/error", OpType.FAIL), ("/reset", OpType.INFO)}
    ids = [row["request_id"] for row in read_rows(result.history_path)]
    assert len(set(ids)) == len(ids) and all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)


def test_timeouts_are_indeterminate(target: str, tmp_path: Path) -> None:
    result = run_load(LoadSpec(TARGET_USERS, target, users=2, duration_s=2, user_classes=("SlowUser",),
                               env={"INFRATESTS_TIMEOUT_S": "0.1"}), tmp_path)
    rows = read_rows(result.history_path)
    assert rows and all(row["status"] == 0 and row["kind"] == "transport" for row in rows)
    assert {op.type for op in result.history().completions()} == {OpType.INFO}


def test_deadline_ends_a_shape_that_never_ends(target: str, tmp_path: Path) -> None:
    started = time.monotonic()
    result = run_load(LoadSpec(TARGET_USERS, target, user_classes=("FastUser",), shape_file=FOREVER_SHAPE,
                               rate_per_user=10, deadline_s=4, kill_grace_s=10), tmp_path)
    assert result.deadline_hit and time.monotonic() - started < 4 + 10
    assert result.source == "locust"  # SIGINT, not SIGKILL: Locust wrote its stats
    _history_matches_stats(result.requests, result.history_path)
    # Steady rate: 2 users x 10/s; generous bounds for a busy 2-core machine.
    assert 5 <= result.rps <= 25


def test_leaving_the_context_stops_locust_and_keeps_results(target: str, tmp_path: Path) -> None:
    started = time.monotonic()
    with LocustRun(LoadSpec(TARGET_USERS, target, users=2, duration_s=120, user_classes=("FastUser",),
                            rate_per_user=50), tmp_path) as run:
        deadline = time.monotonic() + 30
        # The history file is created by Locust's first finished request: load is flowing.
        while not run.history_path.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert run.history_path.exists(), "Locust made no request within 30 s"
    result = run.result
    assert time.monotonic() - started < 60 and not result.deadline_hit
    assert result.source == "locust" and result.stats_path is not None
    _history_matches_stats(result.requests, result.history_path)


def test_distributed_run_with_two_workers(target: str, tmp_path: Path) -> None:
    result = run_load(LoadSpec(TARGET_USERS, target, users=4, duration_s=3, user_classes=("FastUser",),
                               workers=2, rate_per_user=20), tmp_path)
    assert result.source == "locust" and result.exit_code == 0
    assert set(result.cpu_cores) >= {"worker1", "worker2"}
    assert len(history_files(result.history_path)) == 2  # one part per worker
    rows = len(read_rows(result.history_path))
    # Workers write their own history (complete by construction); the master's count relies on
    # each worker's final report arriving within Locust's 0.5 s quit window, which a starved
    # worker on a busy machine can miss: equal in practice, a small shortfall tolerated.
    assert 0 < result.requests <= rows and rows - result.requests <= max(5, rows // 50)


def test_tls_is_verified_against_the_given_ca(tls_target: tuple[str, Path], tmp_path: Path) -> None:
    url, ca = tls_target
    spec = LoadSpec(TARGET_USERS, url, users=1, duration_s=2, user_classes=("FastUser",), rate_per_user=20)
    trusted = run_load(replace(spec, ca_file=ca), tmp_path / "trusted")
    assert trusted.requests > 0 and trusted.failures == 0
    untrusted = run_load(spec, tmp_path / "untrusted")  # system store: the self-signed CA is unknown
    rows = read_rows(untrusted.history_path)
    assert rows and all(row["status"] == 0 and "CERTIFICATE_VERIFY_FAILED" in row["error"] for row in rows)
