"""Bad input fails BEFORE Locust starts, with one clear InfratestsError (no Locust process needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from infratests.errors import ConfigError, InfratestsError, ServiceError
from infratests.load.budget import Budget, budget_from
from infratests.load.capacity_command import capacity_main
from infratests.load.runner import LoadSpec, LocustRun

TARGET_USERS = Path(__file__).resolve().parent / "locustfiles" / "target_users.py"


def _start(spec: LoadSpec, tmp_path: Path) -> None:
    with LocustRun(spec, tmp_path / "run"):
        pytest.fail("must not start")


def test_unknown_locustfile(target: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown locustfile 'no_such_file'.*api_mix"):
        _start(LoadSpec("no_such_file", target), tmp_path)
    assert not (tmp_path / "run").exists()


def test_unknown_user_class_lists_the_known_ones(target: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown user class 'Nope'.*FastUser"):
        _start(LoadSpec(TARGET_USERS, target, user_classes=("Nope",)), tmp_path)


@pytest.mark.parametrize("field", ["users", "duration_s"])
def test_non_positive_numbers(target: str, tmp_path: Path, field: str) -> None:
    zero: dict[str, Any] = {field: 0}
    spec = LoadSpec("api_mix", target, **zero)
    with pytest.raises(ConfigError, match=f"{field} must be > 0"):
        _start(spec, tmp_path)


def test_unreachable_host(closed_port: int, tmp_path: Path) -> None:
    with pytest.raises(ServiceError, match=f"unreachable: TCP connect to 127.0.0.1:{closed_port}"):
        _start(LoadSpec("api_mix", f"http://127.0.0.1:{closed_port}"), tmp_path)


def test_host_must_be_a_url(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="http:// or https:// URL"):
        _start(LoadSpec("api_mix", "127.0.0.1:8080"), tmp_path)


@pytest.mark.parametrize(("text", "message"), [
    ("p99_ms = 500\nmax_rps = 3\n", "unknown budget key 'max_rps'"),
    ("p99_ms = -1\n", "'p99_ms' must be > 0"),
    ("max_error_rate = 5\n", "is a fraction"),
    ("p99_ms = 'fast'\n", "must be a number"),
    ("p99_ms = = 3\n", "not valid TOML"),
])
def test_bad_budget_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "budget.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        Budget.load(path)


def test_budget_sources() -> None:
    assert budget_from({"min_rps": 1500, "p99_ms": 500, "max_error_rate": 0.001}).min_rps == 1500
    assert budget_from(None) == Budget()
    with pytest.raises(InfratestsError, match="cannot be read"):
        budget_from("/nonexistent/budget.toml")


def test_capacity_command_reports_bad_budget_with_exit_2(target: str, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "budget.toml"
    path.write_text("[budget]\np99 = 3\n")
    assert capacity_main(["--host", target, "--budget", str(path), "--out", str(tmp_path / "o")]) == 2
    assert "unknown budget key 'p99'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # nothing started


@pytest.mark.parametrize(("options", "message"), [
    (["--start-rps", "0"], "rate ladder"),
    (["--start-users", "8", "--max-users", "4"], "start (8) <= max (4)"),
    (["--rates", "100,-5"], "rates must be > 0"),
])
def test_capacity_command_reports_bad_steps_with_exit_2(target: str, tmp_path: Path, options: list[str],
                                                        message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert capacity_main(["--host", target, "--out", str(tmp_path / "o"), *options]) == 2
    assert message in capsys.readouterr().err


def test_locust_failing_at_start_is_a_clear_error(target: str, tmp_path: Path) -> None:
    broken = TARGET_USERS.with_name("broken.py")
    with pytest.raises(ServiceError, match=r"(?s)before running any request.*broken on purpose"):
        _start_and_wait(LoadSpec(broken, target, duration_s=2), tmp_path)


def _start_and_wait(spec: LoadSpec, tmp_path: Path) -> None:
    with LocustRun(spec, tmp_path / "run") as run:
        run.wait()
