"""Capacity search (C-CAP-1/2) on a tiny budget, and the wrk-vs-Locust benchmark."""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import pytest

from infratests.load.bench import bench_load
from infratests.load.budget import Budget
from infratests.load.capacity import Step, doubling, search_capacity, staircase
from infratests.load.commands import run_main
from infratests.load.runner import LoadSpec

TARGET_USERS = Path(__file__).resolve().parent / "locustfiles" / "target_users.py"


def test_step_generators() -> None:
    assert [s.users for s in doubling(10, 80)] == [10, 20, 40, 80]
    assert [s.offered for s in staircase([100, 200], users=20)] == [100.0, 200.0]


def test_capacity_within_budget_reports_knee_and_files(target: str, tmp_path: Path) -> None:
    lines: list[str] = []
    spec = LoadSpec(TARGET_USERS, target, duration_s=2, user_classes=("FastUser",))
    budget = Budget(p99_ms=1000, max_error_rate=0.001, min_rps=10)
    # A threshold of 0.01 core makes any real Locust process count as saturated: checks the flag path.
    report = search_capacity(spec, staircase([20, 40], users=2), budget, tmp_path,
                             saturation_cores=0.01, echo=lines.append)
    assert [s.step.offered for s in report.steps] == [20, 40]
    assert report.knee is report.steps[-1] and report.exhausted
    assert report.passed and report.exit_code == 0
    assert report.limited_by_generator and all(s.generator_saturated for s in report.steps)
    assert len(lines) == 3 and lines[0].startswith("step 1/2: 20 req/s offered")
    assert "generator" in lines[-1]
    summary = json.loads((tmp_path / "capacity.json").read_text())
    assert summary["passed"] and summary["knee"]["offered"] == 40
    assert (tmp_path / "capacity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "**Knee:** 40" in (tmp_path / "capacity.md").read_text()


def test_capacity_over_budget_has_no_knee_and_fails(target: str, tmp_path: Path) -> None:
    spec = LoadSpec(TARGET_USERS, target, duration_s=2, user_classes=("SlowUser",))  # 300 ms each
    report = search_capacity(spec, [Step(1), Step(2)], Budget(p99_ms=100, min_users=1), tmp_path,
                             echo=lambda _: None)
    assert len(report.steps) == 1 and report.knee is None  # stopped at the first step over budget
    assert report.steps[0].over_budget is not None and "p99" in report.steps[0].over_budget
    assert not report.passed and report.exit_code == 1
    assert report.missed == ("min_users 1 not reached (knee: none)",)
    assert "FAIL" in (tmp_path / "capacity.md").read_text()


def test_bench_wrk_against_locust(target: str, tmp_path: Path) -> None:
    result = bench_load(f"{target}/fast", duration_s=2, connections=2, workdir=tmp_path)
    assert result.wrk_rps > 0 and result.locust_rps > 0
    assert math.isfinite(result.ratio) and result.to_dict()["ratio"] == result.ratio


def test_bench_without_a_workdir_leaves_no_temporary_directory(target: str) -> None:
    scratch = Path(tempfile.gettempdir())
    before = set(scratch.glob("infratests-locust-*"))
    assert bench_load(f"{target}/fast", duration_s=1, connections=1).locust_rps > 0
    assert set(scratch.glob("infratests-locust-*")) == before


def test_run_command_prints_the_result_as_json(target: str, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    code = run_main(["--host", target, "--locustfile", str(TARGET_USERS), "--user-class", "FastUser",
                     "-u", "1", "-t", "2", "--target-rps", "20", "--out", str(tmp_path)])
    printed = json.loads(capsys.readouterr().out)
    assert code == 0 and printed["total"]["requests"] > 0 and printed["source"] == "locust"
