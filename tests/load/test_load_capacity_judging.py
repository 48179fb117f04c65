"""The capacity search's judgement on literal data: steps, marks, the pool, the knee, the verdict, the budget."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import pytest

from infratests.config import Profile
from infratests.errors import ConfigError
from infratests.load.budget import Budget, budget_from
from infratests.load.capacity_result import StepResult, evaluate_step, judge, wrk_note
from infratests.load.capacity_stack import capacity_on_stack, lifted_limits
from infratests.load.pool import PoolSample, PoolSampler, pool_sample
from infratests.load.steps import Step, between, doubling, rate_ladder, staircase
from infratests.load.tallies import Window, window
from infratests.profile_file import load_profile, parse_overrides


def test_step_generators() -> None:
    assert [s.users for s in doubling(10, 80)] == [10, 20, 40, 80]
    assert [(s.offered, s.users) for s in staircase([100, 200], users=20)] == [(100.0, 20), (200.0, 20)]
    assert [(s.offered, s.users) for s in rate_ladder(100, 800)] == [(100, 10), (200, 20), (400, 40), (800, 80)]
    assert Step(40, 400.0).rate_per_user == 10 and Step(40).rate_per_user is None
    assert between(Step(160, 1600.0), Step(320, 3200.0)) == Step(240, 2400.0)
    assert between(Step(4), Step(8)) == Step(6) and between(Step(4), Step(5)) is None
    with pytest.raises(ConfigError, match="start"):
        rate_ladder(0, 100)


def _process(node: str, role: str, wall: float, cpu: float, wait: float, requests: int, failures: int,
             buckets: dict[str, int], causes: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"node": node, "role": role, "host": "h", "pid": 1, "container": False, "wall": wall, "cpu_s": cpu,
            "wait_s": wait, "requests": requests, "failures": failures, "buckets": buckets, "causes": causes or {}}


def test_a_step_is_the_difference_of_two_marks() -> None:
    begin = {"wall": 100.0, "users": 4, "processes": [
        _process("master", "master", 100.0, 1.0, 0.0, 0, 0, {}),
        _process("w1", "worker", 100.0, 5.0, 1.0, 100, 1, {"10": 100},
                 {"HTTP 429": {"count": 1, "status": 429, "sample": "slow down"}})]}
    end = {"wall": 110.0, "users": 4, "missing": [], "processes": [
        _process("master", "master", 110.0, 1.1, 0.0, 0, 0, {}),
        _process("w1", "worker", 110.0, 10.0, 5.0, 1100, 11, {"10": 1090, "200": 10},
                 {"HTTP 429": {"count": 6, "status": 429, "sample": "slow down"},
                  "ConnectionResetError": {"count": 5, "status": 0, "sample": "ConnectionResetError(104)"}}),
        _process("w2", "worker", 110.0, 3.0, 0.0, 0, 0, {})]}  # joined during the step: no figures yet
    step = window(begin, end)
    assert (step.seconds, step.requests, step.failures, step.rps) == (10.0, 1000, 10, 100.0)
    assert (step.p50_ms, step.p99_ms) == (10.0, 200.0)
    assert [(c.key, c.status, c.count, c.sample) for c in step.causes] == [
        ("HTTP 429", 429, 5, "slow down"), ("ConnectionResetError", 0, 5, "ConnectionResetError(104)")]
    worker = next(g for g in step.generators if g.node == "w1")
    assert worker.cpu_cores == pytest.approx(0.5) and worker.busy == pytest.approx(0.9)
    assert next(g for g in step.generators if g.node == "w2").cpu_cores == 0.0


def _window(rps: float, p99: float = 10.0, failures: int = 0, busy: float = 0.2, seconds: float = 10.0) -> Window:
    from infratests.load.tallies import Cause, Generator

    requests = int(rps * seconds)
    causes = (Cause("HTTP 503", 503, failures, "busy"),) if failures else ()
    return Window(seconds, 10, requests, failures, p99 / 2, p99, p99, causes,
                  (Generator("w1", "worker", "h", False, busy, busy),), ())


def _step(rate: float, achieved: float, budget: Budget, **kwargs: Any) -> StepResult:
    return evaluate_step(f"step {rate:g}", Step(int(rate // 10) or 1, rate), _window(achieved, **kwargs), None,
                         budget)


def test_a_rate_step_is_judged_on_errors_p99_and_the_rate_it_sustained() -> None:
    budget = Budget(p99_ms=100)
    assert _step(100, 100, budget).over_budget is None
    assert _step(100, 100, budget, p99=150).over_budget == "p99 150 ms > 100 ms"
    errors = _step(100, 100, budget, failures=10).over_budget
    assert errors == "errors 1.00% > 0.10% (first cause: HTTP 503 x10: busy)"
    assert _step(100, 80, budget).over_budget == "sustained 80 of 100 req/s offered"
    bound = _step(100, 80, budget, busy=0.95)  # short, and the generator was busy: its limit, not the system's
    assert bound.generator_bound and bound.over_budget is None
    assert not _step(100, 99, budget, busy=0.95).generator_bound  # busy, but the rate was reached
    stalled = evaluate_step("step 1/1", Step(10, 100.0), replace(_window(100), missing=("w2",)), None, budget)
    assert stalled.generator_bound  # a worker that did not answer the tally: the figures are the generator's


def test_the_knee_is_the_highest_step_in_budget_and_the_next_one_limits_it() -> None:
    budget = Budget(p99_ms=100, min_rps=150)
    steps = [_step(100, 100, budget), _step(200, 200, budget), _step(400, 400, budget, p99=300),
             _step(300, 300, budget, p99=120)]  # refined between 200 and 400
    report = judge(steps, budget)
    assert report.knee is steps[1] and not report.lower_bound and report.passed
    assert report.limit == "the system: p99 120 ms > 100 ms at 300 req/s offered, 30 users"
    assert report.verdict.startswith("PASS: knee at 200 req/s offered, 20 users: 200.0 req/s")


def test_a_generator_bound_knee_is_a_lower_bound_and_a_missed_target_is_inconclusive() -> None:
    budget = Budget(p99_ms=100, min_rps=1500)
    report = judge([_step(800, 800, budget), _step(1600, 900, budget, busy=0.97)], budget)
    assert report.lower_bound and report.generator_bound_rps == 900 and report.exit_code == 1
    assert report.limit == ("the load generator at 1600 req/s offered, 160 users: generator-bound at 900 req/s; "
                            "add workers or machines")
    assert "inconclusive: the generator limited the run" in report.verdict


def test_no_step_in_budget_fails_whatever_the_targets() -> None:
    budget = Budget(p99_ms=100)
    report = judge([_step(100, 100, budget, failures=900)], budget)
    assert report.knee is None and report.missed == ("no step met the budget",) and report.exit_code == 1
    assert report.verdict.startswith("FAIL: no step met the budget; limited by the system: errors 90.00%")


def test_users_through_the_pool() -> None:
    budget = Budget(min_users=300, max_db_connections=30)
    assert budget.pool_failures(30, 800.0) == []
    assert budget.pool_failures(34, 800.0) == ["PgBouncer used 34 server connections at the knee > "
                                               "max_db_connections 30"]
    assert "no transaction went through PgBouncer" in budget.pool_failures(1, 0.0)[0]
    assert "PgBouncer was not observed" in budget.pool_failures(None, None)[0]
    knee = evaluate_step("step 1/1", Step(300), _window(900), None, budget)
    assert judge([knee], budget).missed == (budget.pool_failures(None, None)[0],)


def test_budget_files_and_keys(tmp_path: Any) -> None:
    path = tmp_path / "budget.toml"
    path.write_text("[budget]\np99_ms = 250\nmin_users = 300\nmax_db_connections = 30\n")
    assert budget_from(path) == Budget(p99_ms=250, min_users=300, max_db_connections=30)
    with pytest.raises(ConfigError, match="unknown budget key 'max_users'"):
        Budget.from_mapping({"max_users": 3})
    with pytest.raises(ConfigError, match="is a fraction"):
        Budget(max_error_rate=5)


def test_pool_samples_and_windows() -> None:
    pools = [{"database": "app", "user": "u", "cl_active": 40, "cl_waiting": 12, "sv_active": 30, "sv_idle": 0,
              "sv_used": 0, "sv_tested": 0, "sv_login": 0, "maxwait": 0, "maxwait_us": 35000},
             {"database": "pgbouncer", "user": "pgbouncer", "cl_active": 1, "cl_waiting": 0, "sv_active": 0}]
    stats = [{"database": "app", "total_xact_count": 1000, "total_wait_time": 500_000}]
    sample = pool_sample(pools, stats)
    assert (sample.clients_active, sample.clients_waiting, sample.server_connections, sample.max_wait_ms) == (
        40, 12, 30, 35.0)
    samples = iter([PoolSample(10.0, 40, 0, 30, 30, 0.0, 1000, 0), PoolSample(11.0, 40, 12, 30, 30, 35.0, 1500, 50_000),
                    PoolSample(12.0, 40, 3, 28, 30, 5.0, 2000, 100_000)])
    with PoolSampler(lambda: next(samples), every_s=0.01) as sampler:  # then StopIteration: gaps, no error
        time.sleep(0.3)
    pool = sampler.window(10.0, 12.0)
    assert pool is not None and (pool.clients_waiting, pool.server_connections, pool.max_wait_ms) == (12, 30, 35.0)
    assert (pool.transactions_per_s, pool.mean_wait_ms) == (500.0, 0.1)
    assert sampler.window(20.0, 30.0) is None


def test_wrk_note_puts_the_knee_next_to_wrk() -> None:
    budget = Budget()
    report = judge([_step(1600, 1600, budget)], budget,
                   {"wrk": {"rps": 6400.0, "threads": 2, "connections": 160, "p99_ms": 65.0, "errors": 0}})
    assert wrk_note(report) == ("wrk on the same endpoint, same run: 6400 req/s (2 threads, 160 connections, "
                                "p99 65 ms, 0 errors); the knee (1600 req/s) is 25% of it")
    skipped = judge([_step(100, 100, budget)], budget, {"wrk": {"skipped": "wrk is not installed"}})
    assert wrk_note(skipped) == "wrk on the same endpoint: not run (wrk is not installed)"


def test_capacity_lifts_every_per_client_limit_and_says_which() -> None:
    before = Profile()
    after = load_profile(None, parse_overrides(["nginx.rate_api_rps=1000000", "promises.health_rate_per_min=999"]))
    lines = lifted_limits(before, after)
    assert "nginx.rate_api_rps: 100 -> 1000000 (nginx zone api)" in lines
    assert "nginx.rate_auth_rps: kept at 10 (nginx zone auth)" in lines
    assert "promises.health_rate_per_min: 30 -> 999 (reaches the app as REFAPP_HEALTH_RATE_PER_MIN)" in lines
    own_app = load_profile(None, parse_overrides(['app.command=["node", "server.js"]']))
    assert "not passed to the app" in lifted_limits(own_app, own_app)[-1]


def test_capacity_never_loads_an_environment_it_did_not_start_unless_named_by_host() -> None:
    with pytest.raises(ConfigError, match="--host URL"):
        capacity_on_stack(Profile(), "external", [], [], echo=lambda _: None)
