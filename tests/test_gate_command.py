"""``infratests gate`` from any folder: the installed scenarios, the folder's profile, one-line errors."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from infratests.resources import scenarios_dir


def _gate(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "infratests.cli", "gate", *args], cwd=folder,
                          capture_output=True, text=True, timeout=120)


def _collected(output: str) -> int:
    found = re.search(r"(\d+)/\d+ tests collected", output)
    assert found, output[-2000:]
    return int(found.group(1))


def _gate_marked() -> int:
    text = "".join(path.read_text() for path in scenarios_dir().glob("test_*.py"))
    return text.count("pytest.mark.gate")


def test_an_empty_folder_collects_the_gate_scenarios(tmp_path: Path) -> None:
    done = _gate(tmp_path, "--collect-only", "-q")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    assert _collected(done.stdout) >= _gate_marked() > 20


def test_a_profile_given_as_a_separate_argument_is_not_a_test_path(tmp_path: Path) -> None:
    profile = tmp_path / "other.toml"
    profile.write_text('[app]\nreplicas = 3\n')
    joined = _gate(tmp_path, "--collect-only", "-q", f"--infratests-profile={profile}")
    separate = _gate(tmp_path, "--collect-only", "-q", "--infratests-profile", str(profile))
    own = _gate(tmp_path, "--collect-only", "-q", "--profile", str(profile))
    assert _collected(joined.stdout) == _collected(separate.stdout) == _collected(own.stdout)
    assert "tests/" not in separate.stdout


def test_the_header_names_the_folders_profile_and_app(tmp_path: Path) -> None:
    (tmp_path / "infratests.toml").write_text('[app]\ncommand = ["node", "server.js"]\n')
    done = _gate(tmp_path, "--collect-only")
    assert "infratests: testing app 'node server.js' (profile ./infratests.toml), local backend" in done.stdout


def test_a_folder_with_an_app_but_no_profile_gets_a_hint(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text("{}")
    done = _gate(tmp_path, "--collect-only")
    assert "infratests: package.json here but no infratests.toml" in done.stdout


def test_a_bad_set_under_pytest_is_one_usage_error(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "pytest", str(scenarios_dir()), "-p", "no:locust",
                           "--infratests-set", "app.replicas=many"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 4
    errors = [line for line in (done.stdout + done.stderr).splitlines() if "infratests:" in line]
    assert errors == ["ERROR: infratests: app.replicas = 'many' has the wrong type: write a whole number"]
