"""Mutants: known-broken variants of the stack that a scenario must catch.

A mutant is a profile override (a broken config, or a reference-service knob
through ``app.env.REFAPP_*``) plus the scenario that must fail on it and the
claim id its failure must start with (``<claim> violated``). :func:`run_against`
runs the scenario in a pytest subprocess with the mutant's overrides, as a user
would, and reads the scenario's own failure from its JUnit XML.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Mutant:
    name: str
    claim: str
    scenario: str  # a pytest node id relative to the repository root
    overrides: Mapping[str, str]
    breaks: str  # one line: what is broken
    env: Mapping[str, str] = field(default_factory=dict)  # e.g. a tool setting the scenario reads
    # how the failure's first line goes on after the claim id: a demonstration of a known unsafe case
    # fails "not demonstrated" when the mutant makes the case impossible
    verdict: str = "violated"

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Verdict:
    exit_code: int
    output: str
    failure: str | None = None  # the first line of the scenario's own failure

    @property
    def failed(self) -> bool:
        return self.exit_code == 1


def run_scenario(scenario: str, overrides: Mapping[str, str], env: Mapping[str, str],
                 timeout: float = 600.0) -> Verdict:
    """Run one scenario (a node id) in a pytest of its own, with profile overrides and environment;
    the verdict carries the first line of the scenario's own failure (from its JUnit XML), if any."""
    sets = [f"--infratests-set={key}={value}" for key, value in overrides.items()]
    with tempfile.TemporaryDirectory(prefix="infratests-mutant-") as folder:
        junit = Path(folder) / "junit.xml"
        done = subprocess.run([sys.executable, "-m", "pytest", scenario, "-q", "-p", "no:cacheprovider",
                               "--tb=short", "-o", "addopts=-p no:locust", f"--junitxml={junit}",
                               f"--infratests-report={Path(folder) / 'report'}", *sets],
                              cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, **env})
        failure = _failure_line(junit) if junit.is_file() else None
    return Verdict(done.returncode, done.stdout + done.stderr, failure)


def _failure_line(junit: Path) -> str | None:
    """The first line of the test's own failure (a ``<failure>``, never a setup or teardown ``<error>``),
    without the exception's type name."""
    for case in ElementTree.parse(junit).iter("testcase"):
        failure = case.find("failure")
        if failure is not None and case.find("error") is None:
            message = (failure.get("message") or "").splitlines()
            return re.sub(r"^[\w.]+: ", "", message[0]) if message else ""
    return None


def run_against(mutant: Mutant, timeout: float = 600.0) -> Verdict:
    """Run the mutant's scenario on a stack with the mutant's overrides."""
    return run_scenario(mutant.scenario, mutant.overrides, mutant.env, timeout)


def assert_caught(mutant: Mutant) -> None:
    """Caught means: the scenario itself failed (not its setup, not a crash elsewhere) and its failure's
    first line says ``<claim> violated`` (or the mutant's own verdict); a claim id printed anywhere else
    does not count."""
    verdict = run_against(mutant)
    assert verdict.failed, (f"{mutant.scenario} did not fail on mutant {mutant.name} "
                            f"({mutant.breaks}); exit {verdict.exit_code}:\n{verdict.output[-3000:]}")
    expected = f"{mutant.claim} {mutant.verdict}"
    assert verdict.failure is not None and re.match(rf"{re.escape(expected)}\b", verdict.failure), (
        f"{mutant.scenario} failed on mutant {mutant.name}, but not with '{expected}' first: "
        f"{verdict.failure!r}\n{verdict.output[-3000:]}")
