"""What a capacity search found (C-CAP-1/2): each step judged, the knee, what limited it, the verdict.

Pure functions over measured figures, no I/O. A step is *generator-bound*
when a Locust process was busy (CPU plus waiting for a CPU) at least
``SATURATED_BUSY`` of the step and, for a rate step, the achieved rate fell
short of the offered one (for a closed-loop step, saturation alone): the
generator, not the system, set the pace. Such a step ends the search, and a
knee limited by it is only a lower bound. A step over budget names why: its
error rate (with the first cause), its p99, or a rate it did not sustain.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from infratests.load.budget import Budget
from infratests.load.pool import PoolWindow
from infratests.load.steps import Step
from infratests.load.tallies import Cause, Generator, Window

__all__ = ["SATURATED_BUSY", "SUSTAINED", "CapacityReport", "StepResult", "evaluate_step", "judge", "wrk_note"]

#: A generator process busy this fraction of a step could not have sent faster.
SATURATED_BUSY = 0.9
#: A rate step achieving less than this fraction of its offered rate did not sustain it.
SUSTAINED = 0.95


@dataclass(frozen=True)
class StepResult:
    label: str
    step: Step
    window: Window
    pool: PoolWindow | None
    generator_bound: bool
    over_budget: str | None

    @property
    def rps(self) -> float:
        return self.window.rps

    @property
    def error_rate(self) -> float:
        return self.window.error_rate

    @property
    def causes(self) -> tuple[Cause, ...]:
        return self.window.causes

    @property
    def generators(self) -> tuple[Generator, ...]:
        return self.window.generators

    @property
    def generator_busy(self) -> float:
        return max((process.busy for process in self.window.generators), default=0.0)

    @property
    def achieved(self) -> float | None:
        """Achieved / offered rate for a rate step, else None."""
        target = self.step.target_rps
        return self.window.rps / target if target else None

    def to_dict(self) -> dict[str, Any]:
        w = self.window
        return {"label": self.label, "offered": self.step.offered, "users": self.step.users,
                "target_rps": self.step.target_rps, "seconds": w.seconds, "requests": w.requests,
                "failures": w.failures, "rps": w.rps, "achieved": self.achieved, "p50_ms": w.p50_ms,
                "p95_ms": w.p95_ms, "p99_ms": w.p99_ms, "error_rate": w.error_rate,
                "causes": [cause.to_dict() for cause in w.causes],
                "generators": [process.to_dict() for process in w.generators],
                "generator_busy": self.generator_busy, "generator_bound": self.generator_bound,
                "missing_processes": list(w.missing), "pool": None if self.pool is None else self.pool.to_dict(),
                "over_budget": self.over_budget}


def evaluate_step(label: str, step: Step, window: Window, pool: PoolWindow | None, budget: Budget) -> StepResult:
    """A Locust process that did not answer a mark (``window.missing``) stalled: the generator, again."""
    busy = max((process.busy for process in window.generators), default=0.0)
    short = step.target_rps is not None and window.rps < SUSTAINED * step.target_rps
    generator_bound = bool(window.missing) or (busy >= SATURATED_BUSY and (step.target_rps is None or short))
    return StepResult(label, step, window, pool, generator_bound,
                      _over_budget(step, window, budget, short and not generator_bound))


def _over_budget(step: Step, window: Window, budget: Budget, unsustained: bool) -> str | None:
    if not window.requests:
        return "no requests"
    verdict = budget.step_verdict(window.p99_ms, window.error_rate)
    if verdict and window.causes and verdict.startswith("errors"):
        first = window.causes[0]
        verdict += f" (first cause: {first.key} x{first.count}: {first.sample[:80]})"
    if verdict is None and unsustained:
        verdict = f"sustained {window.rps:.0f} of {step.target_rps:g} req/s offered"
    return verdict


@dataclass(frozen=True)
class CapacityReport:
    """The steps in the order run, the knee (None if no step met the budget) and the verdict.

    ``limit`` says what ended the search above the knee; ``lower_bound`` says the
    knee may be below the system's (every step met the budget, or the generator
    limited). ``context`` describes the run (target, profile, machine, wrk's rate).
    """

    steps: tuple[StepResult, ...]
    budget: Budget
    mode: str
    knee: StepResult | None
    limit: str
    lower_bound: bool
    generator_bound_rps: float | None
    missed: tuple[str, ...]
    context: Mapping[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not self.missed

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    @property
    def verdict(self) -> str:
        """PASS or FAIL with its reason, in one line."""
        knee = self.knee
        found = [] if knee is None else [
            f"knee at {knee.step.describe()}: {knee.rps:.1f} req/s, p99 {knee.window.p99_ms:g} ms, errors "
            f"{knee.error_rate:.2%}" + (" (a lower bound)" if self.lower_bound else "")]
        if self.passed:
            return f"PASS: {found[0]}; limited by {self.limit}"
        unsure = ["inconclusive: the generator limited the run"] if self.generator_bound_rps else []
        return "FAIL: " + "; ".join([*self.missed, *unsure, *found, f"limited by {self.limit}"])

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "budget": self.budget.to_dict(), "passed": self.passed,
                "verdict": self.verdict, "missed": list(self.missed), "limit": self.limit,
                "lower_bound": self.lower_bound, "generator_bound_rps": self.generator_bound_rps,
                "knee": None if self.knee is None else self.knee.to_dict(),
                "steps": [step.to_dict() for step in self.steps], "context": dict(self.context)}


def wrk_note(report: CapacityReport) -> str | None:
    """The knee next to wrk's rate on the same endpoint (``context["wrk"]``), or why wrk did not run."""
    wrk = report.context.get("wrk")
    if not isinstance(wrk, Mapping):
        return None
    if "rps" not in wrk:
        return f"wrk on the same endpoint: not run ({wrk.get('skipped', 'no reason given')})"
    share = f"; the knee ({report.knee.rps:.0f} req/s) is {report.knee.rps / wrk['rps']:.0%} of it" \
        if report.knee and wrk["rps"] else ""
    p99 = f", p99 {wrk['p99_ms']:g} ms" if wrk.get("p99_ms") is not None else ""
    return (f"wrk on the same endpoint, same run: {wrk['rps']:.0f} req/s ({wrk['threads']} threads, "
            f"{wrk['connections']} connections{p99}, {wrk['errors']} errors){share}")


def judge(steps: Sequence[StepResult], budget: Budget, context: Mapping[str, Any] | None = None) -> CapacityReport:
    """The knee (the highest offered step within budget), what limited it, and the budget's verdict."""
    within = [step for step in steps if not step.over_budget]
    knee = max(within, key=lambda step: step.step.offered, default=None)
    limiting = _limiting(steps, knee)
    bound = [step.rps for step in steps if step.generator_bound]
    missed = budget.knee_failures(knee.rps if knee else None, knee.step.users if knee else None)
    if knee is not None:
        pool = knee.pool
        missed += budget.pool_failures(pool.server_connections if pool else None,
                                       pool.transactions_per_s if pool else None)
    mode = "rate" if steps and steps[0].step.target_rps is not None else "users"
    return CapacityReport(tuple(steps), budget, mode, knee, _describe_limit(limiting),
                          limiting is None or limiting.generator_bound, max(bound) if bound else None,
                          tuple(missed), dict(context or {}))


def _limiting(steps: Sequence[StepResult], knee: StepResult | None) -> StepResult | None:
    """The step that ended the search above the knee (the knee itself when the generator stopped there)."""
    if knee is not None and knee.generator_bound:
        return knee
    above = [step for step in steps if (step.over_budget or step.generator_bound)
             and (knee is None or step.step.offered > knee.step.offered)]
    return min(above, key=lambda step: step.step.offered, default=None)


def _describe_limit(step: StepResult | None) -> str:
    if step is None:
        return "nothing found: every step met the budget (offer more to find the knee)"
    if step.generator_bound:
        return (f"the load generator at {step.step.describe()}: generator-bound at {step.rps:.0f} req/s; "
                "add workers or machines")
    return f"the system: {step.over_budget} at {step.step.describe()}"
