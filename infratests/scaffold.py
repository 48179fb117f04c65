"""``infratests init``: the files a team's repository needs, written without overwriting anything.

* ``infratests.toml``: every profile key commented out at its default, one line of help each;
* ``.github/workflows/infratests.yml``: the gate on a GitHub Actions Ubuntu runner (servers from
  Ubuntu's packages) and again on the Docker backend with official images;
* ``tests/infra/test_example.py``: a scenario of the team's own, using the fixtures, the fault
  API, a recorded history and a checker.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from infratests.profile_doc import commented_profile
from infratests.profile_file import PROFILE_FILE

__all__ = ["STARTER_FILES", "Written", "write_starter"]

_STARTER = Path(__file__).with_name("starter")
STARTER_FILES = (PROFILE_FILE, ".github/workflows/infratests.yml", "tests/infra/test_example.py")


@dataclass(frozen=True)
class Written:
    """One starter file: where it is, and whether ``init`` wrote it or kept the one already there."""

    path: Path
    wrote: bool

    def __str__(self) -> str:
        return f"{'wrote' if self.wrote else 'kept (exists)'} {self.path}"


def write_starter(folder: Path) -> list[Written]:
    """Write each starter file that ``folder`` does not have yet."""
    contents = {
        PROFILE_FILE: commented_profile(_app_hint(folder)),
        ".github/workflows/infratests.yml": (_STARTER / "infratests.yml").read_text()
        .replace("__PACKAGE__", _package_spec()),
        "tests/infra/test_example.py": (_STARTER / "test_example.py").read_text(),
    }
    written = []
    for relative in STARTER_FILES:
        target = folder / relative
        if target.exists():
            written.append(Written(target, wrote=False))
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(contents[relative])
        written.append(Written(target, wrote=True))
    return written


def _package_spec() -> str:
    try:
        return f"infratests=={version('infratests')}"
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "infratests"


def _app_hint(folder: Path) -> str:
    """What ``app.command`` probably is, from package.json's start script."""
    try:
        start = json.loads((folder / "package.json").read_text()).get("scripts", {}).get("start", "")
    except (OSError, ValueError, AttributeError):
        return ""
    if not start or any(char in start for char in "&|;<>$"):
        return ""
    return f"package.json starts your app with {start!r}: command = {json.dumps(shlex.split(start))}"
