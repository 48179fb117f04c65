"""Mutants: known-broken variants of the stack that a scenario must catch.

A mutant is a profile override (a broken config, or a reference-service knob
through ``app.env.REFAPP_*``) plus the scenario that must fail on it and the
claim id its failure message must name. :func:`run_against` runs the scenario
in a pytest subprocess with the mutant's overrides, as a user would.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Mutant:
    name: str
    claim: str
    scenario: str  # a pytest node id relative to the repository root
    overrides: Mapping[str, str]
    breaks: str  # one line: what is broken
    env: Mapping[str, str] = field(default_factory=dict)  # e.g. a tool setting the scenario reads

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Verdict:
    exit_code: int
    output: str

    @property
    def failed(self) -> bool:
        return self.exit_code == 1


def run_scenario(scenario: str, overrides: Mapping[str, str], env: Mapping[str, str],
                 timeout: float = 600.0) -> Verdict:
    """Run one scenario (a node id) in a pytest of its own, with profile overrides and environment."""
    sets = [f"--infratests-set={key}={value}" for key, value in overrides.items()]
    done = subprocess.run([sys.executable, "-m", "pytest", scenario, "-q", "-p", "no:cacheprovider",
                           "--tb=short", "-o", "addopts=-p no:locust", *sets],
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **env})
    return Verdict(done.returncode, done.stdout + done.stderr)


def run_against(mutant: Mutant, timeout: float = 600.0) -> Verdict:
    """Run the mutant's scenario on a stack with the mutant's overrides."""
    return run_scenario(mutant.scenario, mutant.overrides, mutant.env, timeout)


def assert_caught(mutant: Mutant) -> None:
    """The scenario fails on the mutant, and its message names the claim."""
    verdict = run_against(mutant)
    assert verdict.failed, (f"{mutant.scenario} did not fail on mutant {mutant.name} "
                            f"({mutant.breaks}); exit {verdict.exit_code}:\n{verdict.output[-3000:]}")
    assert mutant.claim in verdict.output, (f"{mutant.scenario} failed on mutant {mutant.name} but its "
                                            f"message does not name {mutant.claim}:\n{verdict.output[-3000:]}")
