"""Capacity search (C-CAP-1/2/3): stepped load until p99 or errors break the budget; the knee.

Each step is its own Locust run (clean stats, CPU measured per step). The
search stops at the first step over budget; the knee is the highest step
that met it. A Locust process near one full core (``saturation_cores``,
default 0.9) cannot push harder, so when the step that ended the search was
saturated the report says the limit is the generator, not the system.

Distributed mode (C-CAP-3): ``workers=N`` runs ``--master --expect-workers
N`` plus N local ``--worker`` processes. To spread workers over machines,
run the master here with the workers expected, and on each other machine::

    python -m locust -f locustfiles/fixed_get.py --worker --master-host <master address> \\
        --master-port <port>   # PYTHONPATH=locustfiles, same INFRATESTS_* environment

(the master must then bind an address those machines reach; this suite
itself only ever binds 127.0.0.1).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from infratests.load.budget import Budget
from infratests.load.runner import LoadSpec, LocustRun

__all__ = ["CapacityReport", "Step", "StepResult", "budget_from", "doubling", "search_capacity", "staircase"]


@dataclass(frozen=True)
class Step:
    """``users`` in a closed loop, or at ``target_rps`` in total (steady rate) when set."""

    users: int
    target_rps: float | None = None

    @property
    def offered(self) -> float:
        return self.target_rps if self.target_rps is not None else float(self.users)


def doubling(start_users: int, max_users: int) -> list[Step]:
    """Users doubling: start, 2*start, ... up to max_users (closed loop)."""
    steps, users = [], start_users
    while users <= max_users:
        steps.append(Step(users))
        users *= 2
    return steps


def staircase(rates: Sequence[float], users: int) -> list[Step]:
    """A rate staircase at a fixed number of users (steady rate, comparable across runs)."""
    return [Step(users, float(rate)) for rate in rates]


@dataclass(frozen=True)
class StepResult:
    step: Step
    requests: int
    failures: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    error_rate: float
    cpu_cores: float
    generator_saturated: bool
    over_budget: str | None
    workdir: str

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "offered": self.step.offered}


@dataclass(frozen=True)
class CapacityReport:
    """The steps run, the knee (None if even the first step broke the budget) and the verdict."""

    steps: tuple[StepResult, ...]
    budget: Budget
    mode: str
    knee: StepResult | None
    limited_by_generator: bool
    missed: tuple[str, ...] = field(default=())

    @property
    def exhausted(self) -> bool:
        """Every step met the budget: the knee is only a lower bound."""
        return bool(self.steps) and not self.steps[-1].over_budget

    @property
    def passed(self) -> bool:
        return not self.missed

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "budget": self.budget.to_dict(), "passed": self.passed,
                "exhausted": self.exhausted,
                "missed": list(self.missed), "limited_by_generator": self.limited_by_generator,
                "knee": None if self.knee is None else self.knee.to_dict(),
                "steps": [step.to_dict() for step in self.steps]}


def search_capacity(spec: LoadSpec, steps: Sequence[Step], budget: Budget, out_dir: Path,
                    saturation_cores: float = 0.9,
                    echo: Callable[[str], None] = print) -> CapacityReport:
    """Run ``steps`` in order with ``spec`` (users/duration/rate replaced per step).

    Writes ``capacity.json``, ``capacity.md`` and ``capacity.png`` into
    ``out_dir`` and returns the report; ``report.exit_code`` is the
    pass/fail of the budget's targets (C-CAP-2).
    """
    from infratests.load.capacity_report import write_reports

    out_dir.mkdir(parents=True, exist_ok=True)
    results: list[StepResult] = []
    for index, step in enumerate(steps, 1):
        result = _run_step(spec, step, budget, out_dir / f"step-{index:02d}", saturation_cores)
        results.append(result)
        echo(_progress(index, len(steps), result))
        if result.over_budget:
            break
    report = _report(results, budget, steps)
    write_reports(report, out_dir)
    echo(_verdict(report))
    return report


def _run_step(spec: LoadSpec, step: Step, budget: Budget, workdir: Path, saturation: float) -> StepResult:
    step_spec = replace(spec, users=step.users, spawn_rate=None, target_rps=step.target_rps,
                        rate_per_user=None if step.target_rps is not None else spec.rate_per_user)
    with LocustRun(step_spec, workdir) as run:
        run.wait()
    res = run.result
    return StepResult(
        step=step, requests=res.requests, failures=res.failures, rps=res.rps, p50_ms=res.p50_ms,
        p95_ms=res.p95_ms, p99_ms=res.p99_ms, error_rate=res.error_rate,
        cpu_cores=res.peak_cpu_cores, generator_saturated=res.peak_cpu_cores >= saturation,
        over_budget=budget.step_verdict(res.p99_ms, res.error_rate) if res.requests else "no requests",
        workdir=str(workdir))


def _report(results: list[StepResult], budget: Budget, steps: Sequence[Step]) -> CapacityReport:
    within = [result for result in results if not result.over_budget]
    knee = within[-1] if within else None
    limiting = results[-1] if results else None
    missed = budget.knee_failures(knee.rps if knee else None, knee.step.users if knee else None)
    mode = "rate" if steps and steps[0].target_rps is not None else "users"
    return CapacityReport(tuple(results), budget, mode, knee,
                          bool(limiting and limiting.generator_saturated), tuple(missed))


def _progress(index: int, total: int, result: StepResult) -> str:
    offered = (f"{result.step.target_rps:g} req/s offered, {result.step.users} users"
               if result.step.target_rps is not None else f"{result.step.users} users")
    flags = " [generator saturated]" if result.generator_saturated else ""
    verdict = f"OVER BUDGET: {result.over_budget}" if result.over_budget else "within budget"
    return (f"step {index}/{total}: {offered}: {result.rps:.1f} req/s, p50/p95/p99 "
            f"{result.p50_ms:g}/{result.p95_ms:g}/{result.p99_ms:g} ms, errors "
            f"{result.error_rate:.2%}, locust cpu {result.cpu_cores:.2f} core - {verdict}{flags}")


def _verdict(report: CapacityReport) -> str:
    knee = ("no step met the budget" if report.knee is None else
            f"knee at {report.knee.step.offered:g} {'req/s offered' if report.mode == 'rate' else 'users'}"
            f" ({report.knee.rps:.1f} req/s, p99 {report.knee.p99_ms:g} ms)")
    cause = " - limited by the load generator (Locust CPU saturated)" if report.limited_by_generator else ""
    if report.exhausted:
        cause += " - every step met the budget, so the knee is a lower bound"
    return f"capacity: {knee}{cause}; budget {'PASS' if report.passed else 'FAIL: ' + '; '.join(report.missed)}"


def budget_from(source: Budget | Mapping[str, Any] | Path | str | None) -> Budget:
    """A Budget from a Budget, a dict, a TOML path, or None (the defaults)."""
    if source is None:
        return Budget()
    if isinstance(source, Budget):
        return source
    if isinstance(source, Mapping):
        return Budget.from_mapping(source)
    return Budget.load(Path(source))
