"""Capacity search end to end against the test target (C-CAP-1/2/3) and the generator benchmark.

Each run is one Locust run with the capacity shape; the verdicts must be true
whatever the machine's load: a budget no step meets fails, a limiter's 429s
fail with their cause, a starved generator is named as the limit.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import pytest

from infratests.load.bench import bench_load
from infratests.load.budget import Budget
from infratests.load.capacity import SearchOptions, search_capacity
from infratests.load.capacity_command import CapacityTarget, capacity_main
from infratests.load.capacity_result import CapacityReport
from infratests.load.commands import run_main
from infratests.load.runner import LoadSpec
from infratests.load.steps import Step, staircase

TARGET_USERS = Path(__file__).resolve().parent / "locustfiles" / "target_users.py"
QUICK = SearchOptions(warmup_s=1.0, step_s=2.0, refine=0)


def _search(target: str, user: str, steps: list[Step], budget: Budget, out: Path, workers: int = 0,
            lines: list[str] | None = None) -> CapacityReport:
    spec = LoadSpec(TARGET_USERS, target, user_classes=(user,), workers=workers, history=False)
    return search_capacity(spec, steps, budget, out, QUICK, echo=(lines if lines is not None else []).append)


def _cli(target: str, user: str, out: Path, *extra: str) -> int:
    return capacity_main(["--host", target, "--locustfile", str(TARGET_USERS), "--user-class", user, "--workers",
                          "0", "--step-seconds", "2", "--warmup-seconds", "1", "--refine", "0", "--wrk-seconds", "0",
                          "--out", str(out), *extra], echo=lambda _: None)


def test_capacity_within_budget_reports_knee_and_files(target: str, tmp_path: Path) -> None:
    lines: list[str] = []
    report = _search(target, "FastUser", staircase([20, 40], users=2), Budget(p99_ms=1000, min_rps=10), tmp_path,
                     lines=lines)
    assert [s.step.offered for s in report.steps] == [20, 40]
    assert report.knee is report.steps[-1] and report.lower_bound
    assert report.passed and report.exit_code == 0
    assert "nothing found: every step met the budget" in report.limit
    first = report.steps[0]
    assert first.window.requests > 0 and 0.8 < (first.achieved or 0) <= 1.1 and first.error_rate == 0
    assert lines[0].startswith("step 1/2: 20 req/s offered, 2 users:") and lines[-2].startswith("capacity: PASS")
    summary = json.loads((tmp_path / "capacity.json").read_text())
    assert summary["passed"] and summary["knee"]["offered"] == 40 and summary["lower_bound"]
    assert (tmp_path / "capacity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "**Knee:** 40" in (tmp_path / "capacity.md").read_text()
    html = (tmp_path / "index.html").read_text()
    assert "PASS: knee at 40 req/s offered" in html and "<img src='capacity.png'" in html


def test_a_budget_no_step_meets_exits_1_whatever_the_targets(target: str, tmp_path: Path) -> None:
    """No target set (no min_rps, no min_users): a run with no step in budget still fails."""
    budget = tmp_path / "budget.toml"
    budget.write_text("p99_ms = 100\n")
    code = _cli(target, "SlowUser", tmp_path / "report", "--start-users", "1", "--max-users", "2",
                "--budget", str(budget))  # every request takes 300 ms
    summary = json.loads((tmp_path / "report" / "capacity.json").read_text())
    assert code == 1 and not summary["passed"] and summary["knee"] is None
    assert summary["missed"] == ["no step met the budget"]
    assert len(summary["steps"]) == 1 and summary["steps"][0]["over_budget"].startswith("p99 ")
    assert summary["verdict"].startswith("FAIL: no step met the budget")


def test_a_route_answering_429_fails_and_names_the_cause(target: str, tmp_path: Path) -> None:
    code = _cli(target, "LimitedUser", tmp_path, "--rates", "20,40", "--users", "2")
    summary = json.loads((tmp_path / "capacity.json").read_text())
    step = summary["steps"][0]
    assert code == 1 and not summary["passed"] and step["error_rate"] == 1.0
    assert step["causes"] == [{"key": "HTTP 429", "status": 429, "count": step["failures"],
                               "sample": '{"error":"rate limited"}'}]
    assert "errors 100.00% > 0.10% (first cause: HTTP 429" in step["over_budget"]
    assert "HTTP 429 x" in (tmp_path / "index.html").read_text()


def test_a_starved_generator_is_named_as_the_limit(target: str, tmp_path: Path) -> None:
    """One process whose users burn 20 ms of CPU per request cannot offer 200 req/s."""
    lines: list[str] = []
    report = _search(target, "StarvedUser", staircase([200, 400], users=20), Budget(p99_ms=5000), tmp_path,
                     lines=lines)
    step = report.steps[0]
    assert len(report.steps) == 1 and step.generator_bound
    assert (step.achieved or 1) < 0.5 and step.generator_busy >= 0.9
    assert report.lower_bound and report.limit == (f"the load generator at 200 req/s offered, 20 users: "
                                                   f"generator-bound at {step.rps:.0f} req/s; add workers or machines")
    assert "generator-bound at" in lines[0] and "add workers or machines" in lines[0]
    assert "generator-bound" in (tmp_path / "index.html").read_text()


def test_the_health_secret_is_sent_by_locust_and_wrk_but_never_written(target: str, tmp_path: Path) -> None:
    """The default target is the ready path as an internal caller: the secret goes in a header, never in a
    file the run leaves (report, Locust's logs) nor on a command line."""
    secret = "s3cr3t-health-value"
    lines: list[str] = []
    code = capacity_main(["--rates", "20", "--users", "2", "--workers", "0", "--step-seconds", "2",
                          "--warmup-seconds", "1", "--wrk-seconds", "1", "--out", str(tmp_path)],
                         CapacityTarget(target, default_path="/internal", health_secret=secret), lines.append)
    summary = json.loads((tmp_path / "capacity.json").read_text())
    assert code == 0 and summary["steps"][0]["requests"] > 0 and summary["steps"][0]["error_rate"] == 0
    assert summary["context"]["wrk"]["errors"] == 0 and summary["context"]["wrk"]["rps"] > 0
    assert summary["context"]["target"]["internal_caller"] is True
    written = [path for path in tmp_path.rglob("*") if path.is_file() and secret.encode() in path.read_bytes()]
    assert written == [] and not any(secret in line for line in lines)


def test_local_workers_are_tallied_each(target: str, tmp_path: Path) -> None:
    report = _search(target, "FastUser", staircase([40], users=4), Budget(p99_ms=1000), tmp_path, workers=2)
    step = report.steps[0]
    roles = sorted(process.role for process in step.generators)
    assert roles == ["master", "worker", "worker"] and not step.window.missing
    assert step.window.requests > 0 and 0.8 < (step.achieved or 0) <= 1.1


def test_bench_reports_wrk_and_locust_one_process_history_and_all_cores(target: str, tmp_path: Path) -> None:
    result = bench_load(f"{target}/fast", duration_s=2, users_per_process=2, cores=2, workdir=tmp_path)
    assert result.wrk.rps > 0 and result.one_process.rps > 0 and result.all_cores.rps > 0
    assert set(result.all_cores.cpu_cores) >= {"worker1", "worker2"}
    assert result.per_process_rps == result.all_cores.rps / 2
    assert math.isfinite(result.ratio) and result.to_dict()["ratio_wrk_to_locust_all_cores"] == result.ratio
    assert result.one_process_history.history_path.exists() and not result.one_process.history_path.exists()
    assert result.history_cost_us is not None and result.history_cost_us >= 0


def test_bench_without_a_workdir_leaves_no_temporary_directory(target: str) -> None:
    scratch = Path(tempfile.gettempdir())
    before = set(scratch.glob("infratests-locust-*"))
    assert bench_load(f"{target}/fast", duration_s=1, users_per_process=1, cores=1).one_process.rps > 0
    assert set(scratch.glob("infratests-locust-*")) == before


def test_run_command_prints_the_result_as_json(target: str, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    code = run_main(["--host", target, "--locustfile", str(TARGET_USERS), "--user-class", "FastUser",
                     "-u", "1", "-t", "2", "--target-rps", "20", "--out", str(tmp_path)])
    printed = json.loads(capsys.readouterr().out)
    assert code == 0 and printed["total"]["requests"] > 0 and printed["source"] == "locust"
