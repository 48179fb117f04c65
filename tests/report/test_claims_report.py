"""The claims report: every claim of docs/claims.md gets a verdict from the run, each test's evidence
(history, faults, timeline, failure, logs) sits in its folder, and JUnit carries claims and evidence."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

from infratests.history import History, Op, OpType, fault_ops
from infratests.report.claims import ScenarioOutcome, catalog, claims_named, verdicts
from infratests.report.timeline import write_timeline
from infratests.resources import docs_dir

# A user's own tests, run by pytest with the plugin as installed: one violation, one pass, one skip,
# one precondition failure.
USER_TESTS = '''
import time
import pytest
from infratests.history import OpType

def test_transfer_is_atomic(recorder):
    """C-TX-1: a transfer commits both rows or neither."""
    for n in range(20):
        recorder.record("client", OpType.INVOKE, "transfer", n)
        recorder.record("client", OpType.FAIL if n == 7 else OpType.OK, "transfer", n, status=200)
    raise AssertionError("C-TX-1 violated: transfer 7 left half a write")

def test_backups_retained():
    """C-BK-2: retention keeps the newest N."""

@pytest.mark.skip(reason="the app does not declare capability 'locks'")
def test_locks():
    """C-LOCK-1: at most one holder."""

def test_breaker_precondition():
    """C-CB-1..2: the breaker opens."""
    raise AssertionError("timed out after 15 s waiting until the load is flowing")
'''


def test_the_catalog_has_every_claim_of_the_docs() -> None:
    claims = catalog(docs_dir() / "claims.md")
    assert len(claims) >= 50 and list(claims)[:2] == ["C-TX-1", "C-TX-2"]
    assert claims["C-NGX-8"].startswith("Only the proxy faces the public")
    assert claims_named("C-CB-1..3: x", "C-TX-1") == ("C-CB-1", "C-CB-2", "C-CB-3", "C-TX-1")


def test_verdicts_follow_the_failures_first_line() -> None:
    tests = [ScenarioOutcome("a", ("C-TX-1", "C-TX-2"), "failed", "C-TX-2 violated: lost money"),
             ScenarioOutcome("b", ("C-TX-3",), "failed", "timed out after 15 s waiting until the load flows"),
             ScenarioOutcome("c", ("C-TX-4",), "skipped", "needs bank"),
             ScenarioOutcome("d", ("C-POOL-1",), "passed")]
    found = {v.claim: v.verdict for v in verdicts({"C-TX-1": "", "C-TX-2": "", "C-TX-3": "", "C-TX-4": "",
                                                   "C-POOL-1": "", "C-POOL-2": ""}, tests)}
    assert found == {"C-TX-1": "not judged", "C-TX-2": "violated", "C-TX-3": "not judged", "C-TX-4": "skipped",
                     "C-POOL-1": "held", "C-POOL-2": "not covered"}


def test_a_timeline_shows_operations_and_faults(tmp_path: Path) -> None:
    ops = [op for n in range(50) for op in (Op(1, OpType.INVOKE, "get", n, n * 0.1),
                                             Op(1, OpType.FAIL if 20 <= n < 25 else OpType.OK, "get", n,
                                                n * 0.1 + 0.01))]
    history = History.merged(History.of(ops), History.of(fault_ops("down", "pgbouncer", 2.0, 2.5)))
    assert write_timeline(history, tmp_path / "t.png", "a test") == tmp_path / "t.png"
    assert (tmp_path / "t.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert write_timeline(History.of([]), tmp_path / "none.png", "empty") is None


def test_a_run_writes_the_report_and_junit_carries_claims_and_evidence(tmp_path: Path) -> None:
    (tmp_path / "test_user.py").write_text(USER_TESTS)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_user.py",
                           "--junitxml=junit.xml"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"infratests: claims report {tmp_path / 'infratests-report' / 'index.html'}" in done.stdout
    page = (tmp_path / "infratests-report" / "index.html").read_text()
    verdict = dict(re.findall(r'<tr id="(C-[A-Z]+-\d+)">.*?<td class="v [a-z]+">(.*?)</td>', page, re.S))
    assert verdict["C-TX-1"] == "violated" and verdict["C-BK-2"] == "held" and verdict["C-LOCK-1"] == "skipped"
    assert verdict["C-CB-1"] == verdict["C-CB-2"] == "not judged" and verdict["C-TX-2"] == "not covered"
    evidence = tmp_path / "infratests-report" / "tests" / "test_user.py_test_transfer_is_atomic"
    assert {p.name for p in evidence.iterdir()} >= {"history.jsonl", "timeline.png", "failure.txt"}
    assert 'src="tests/test_user.py_test_transfer_is_atomic/timeline.png"' in page
    case = next(c for c in ElementTree.parse(tmp_path / "junit.xml").iter("testcase") if c.get("name") ==
                "test_transfer_is_atomic")
    properties = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert properties["claims"] == "C-TX-1" and properties["evidence"] == "tests/test_user.py_test_transfer_is_atomic"
