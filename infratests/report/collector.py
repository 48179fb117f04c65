"""The claims report's pytest side: each test's claims and outcome, gathered on the controller
(under xdist too), its evidence written where it ran, and ``index.html`` written at the end.

Every test carries its claim ids as the JUnit property ``claims`` and its evidence folder as
``evidence``; the services' log lines of a failing test go to the JUnit ``system-out``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from infratests.config import Profile
from infratests.history import History
from infratests.report.claims import ScenarioOutcome, catalog, claims_named, verdicts
from infratests.report.evidence import evidence_dir, write_failure, write_history
from infratests.report.html import write_index

__all__ = ["ClaimsReport", "claims_of"]


def claims_of(item: pytest.Item) -> tuple[str, ...]:
    """The claims a test names: in its parameters' id when that names any, else its docstring and name."""
    callspec = getattr(item, "callspec", None)
    if callspec is not None and (named := claims_named(callspec.id)):
        return named
    function = getattr(item, "function", None)
    return claims_named(getattr(function, "__doc__", None) or "", item.name)


class ClaimsReport:
    """Registered by the plugin; ``folder`` is ``--infratests-report``."""

    def __init__(self, config: pytest.Config, folder: Path, profile: Profile) -> None:
        self.config, self.folder, self.profile = config, folder, profile
        self._tests: dict[str, dict[str, Any]] = {}
        self._controller = not hasattr(config, "workerinput")
        if self._controller and folder.exists():
            for stale in (folder / "tests", folder / "index.html"):
                shutil.rmtree(stale, ignore_errors=True) if stale.is_dir() else stale.unlink(missing_ok=True)

    # -- where the test runs (a worker under xdist) -----------------------------------------------------

    def record_history(self, item: pytest.Item, history: History, seed: int | None) -> None:
        """At the end of a test: its history, faults and timeline into its evidence folder."""
        folder = evidence_dir(self.folder, item.nodeid)
        written = write_history(folder, history, item.nodeid, seed)
        self._attach(item, folder, written)

    def record_failure(self, item: pytest.Item, report: pytest.TestReport, logs: dict[str, str]) -> None:
        folder = evidence_dir(self.folder, item.nodeid)
        self._attach(item, folder, write_failure(folder, str(report.longrepr), logs))

    def _attach(self, item: pytest.Item, folder: Path, written: dict[str, str]) -> None:
        relative = folder.relative_to(self.folder).as_posix()
        properties = dict(item.user_properties)
        if "evidence" not in properties:
            item.user_properties.append(("evidence", relative))
        if "timeline" in written and "timeline" not in properties:
            item.user_properties.append(("timeline", f"{relative}/{written['timeline']}"))

    # -- the controller ---------------------------------------------------------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """The services' log sections of a failing test go to JUnit's system-out."""
        from _pytest.junitxml import xml_key

        xml = self.config.stash.get(xml_key, None)
        if xml is not None and xml.logging == "no":
            xml.logging = "system-out"

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        test = self._tests.setdefault(report.nodeid, {"outcome": "passed", "message": "", "duration": 0.0})
        test["duration"] += report.duration
        test["properties"] = dict(report.user_properties)
        if report.failed:
            failed_in_call = report.when == "call"
            if test["outcome"] != "failed":
                test["outcome"] = "failed" if failed_in_call else "error"
                test["message"] = _first_line(report)
        elif report.skipped and test["outcome"] == "passed":
            test["outcome"] = "skipped"
            test["message"] = _skip_reason(report)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not self._controller or not self._tests:
            return
        from infratests.resources import docs_dir
        from infratests.target import target_line

        outcomes = []
        for nodeid, test in self._tests.items():
            properties = test.get("properties", {})
            outcomes.append(ScenarioOutcome(
                nodeid, tuple(str(properties.get("claims", "")).split()), test["outcome"], test["message"],
                test["duration"], str(properties.get("evidence", "")), str(properties.get("timeline", ""))))
        about = [("target", target_line(self.profile, self.config.getoption("infratests_backend"))),
                 ("run", f"{len(outcomes)} tests, exit status {int(session.exitstatus)}")]
        index = write_index(self.folder, "infratests: claims report", about,
                            verdicts(catalog(docs_dir() / "claims.md"), outcomes), outcomes)
        self.config.stash[_INDEX_KEY] = index

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        index = self.config.stash.get(_INDEX_KEY, None)
        if index is not None:
            terminalreporter.write_line(f"infratests: claims report {index}")


_INDEX_KEY = pytest.StashKey[Path]()


def _first_line(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr)
    first = text.strip().splitlines()[0] if text.strip() else ""
    for prefix in ("AssertionError: ", "Failed: ", "infratests.errors.CheckFailed: ", "CheckFailed: ",
                   "WaitTimeout: ", "infratests.wait.WaitTimeout: "):
        first = first.removeprefix(prefix)
    return first


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr or "")
