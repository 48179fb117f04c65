"""Claims and verdicts: the catalog of ``docs/claims.md``, the claims a test names, and what a run
says about each claim. Pure: no pytest, no files written.

A claim is **violated** when a test naming it failed with ``<claim> violated`` as its failure's
first line; **not judged** when a test naming it failed any other way (a setup error, a
precondition, a crash); **held** when the tests naming it passed; **skipped** when every test
naming it was skipped (with the reasons); **not covered** when no test of the run names it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ClaimVerdict", "ScenarioOutcome", "catalog", "claims_named", "verdicts"]

_CLAIM = re.compile(r"\bC-([A-Z]+)-(\d+)(?:\.\.(\d+))?")
_CATALOG_LINE = re.compile(r"^- (C-[A-Z]+-\d+) (.+)")


@dataclass(frozen=True)
class ScenarioOutcome:
    """One test of the run as the report needs it; ``evidence`` is its folder (relative to the report)."""

    nodeid: str
    claims: tuple[str, ...]
    outcome: str  # passed, failed, skipped, error
    message: str = ""  # the failure's first line, or the skip reason
    duration_s: float = 0.0
    evidence: str = ""
    timeline: str = ""

    @property
    def violates(self) -> tuple[str, ...]:
        """The claims whose violation this test's failure states (``C-XX-N violated: ...``)."""
        return tuple(claim for claim in self.claims if self.message.startswith(f"{claim} violated"))


@dataclass(frozen=True)
class ClaimVerdict:
    claim: str
    text: str
    verdict: str  # violated, not judged, held, skipped, not covered
    tests: tuple[ScenarioOutcome, ...] = field(default=())

    @property
    def reasons(self) -> list[str]:
        return sorted({test.message for test in self.tests if test.outcome == "skipped" and test.message})


def catalog(claims_md: Path) -> dict[str, str]:
    """Claim id -> its text, in the order of ``docs/claims.md`` (bullets ``- C-XX-N text``, continued
    on indented lines)."""
    found: dict[str, str] = {}
    current = ""
    for line in claims_md.read_text().splitlines():
        if match := _CATALOG_LINE.match(line):
            current = match.group(1)
            found[current] = match.group(2).strip()
        elif current and line.startswith("  ") and line.strip():
            found[current] += " " + line.strip()
        else:
            current = ""
    return found


def claims_named(*texts: str) -> tuple[str, ...]:
    """Claim ids in ``texts`` (ranges ``C-CB-1..3`` expanded), in order of first mention."""
    found: dict[str, None] = {}
    for text in texts:
        for family, first, last in _CLAIM.findall(text):
            for number in range(int(first), int(last or first) + 1):
                found[f"C-{family}-{number}"] = None
    return tuple(found)


def verdicts(claims: Mapping[str, str], tests: Iterable[ScenarioOutcome]) -> list[ClaimVerdict]:
    """One verdict per claim of the catalog (and per claim a test names that the catalog lacks)."""
    by_claim: dict[str, list[ScenarioOutcome]] = {claim: [] for claim in claims}
    for test in tests:
        for claim in test.claims:
            by_claim.setdefault(claim, []).append(test)
    return [ClaimVerdict(claim, claims.get(claim, "(not in docs/claims.md)"), _verdict(claim, named),
                         tuple(named)) for claim, named in by_claim.items()]


def _verdict(claim: str, tests: list[ScenarioOutcome]) -> str:
    if not tests:
        return "not covered"
    if any(claim in test.violates for test in tests):
        return "violated"
    if any(test.outcome in ("failed", "error") for test in tests):
        return "not judged"
    if any(test.outcome == "passed" for test in tests):
        return "held"
    return "skipped"
