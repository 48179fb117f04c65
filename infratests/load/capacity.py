"""Capacity search (C-CAP-1/2/3): one Locust run, stepped load until a step breaks the budget; the knee.

The whole search is one Locust run driven through the capacity shape
(``locustfiles/capacity_shape.py``): workers connect once, wherever they
run. Each step is set, warmed up, then measured between two marks, exact
tallies of every Locust process (:mod:`infratests.load.tallies`). The ladder
is walked upwards until a step is over budget or generator-bound
(:mod:`infratests.load.capacity_result`); after a step over budget, up to
``refine`` steps halve the interval between the knee and it.

Distributed mode (C-CAP-3): ``spec.workers`` local worker processes (the
default command line uses one per core) plus ``spec.external_workers``
started elsewhere against the master on 127.0.0.1:``spec.master_port``; see
``docs/capacity.md`` for workers on other machines and in containers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from infratests.errors import ConfigError, ServiceError
from infratests.load.budget import Budget
from infratests.load.capacity_report import write_reports
from infratests.load.capacity_result import CapacityReport, StepResult, evaluate_step, judge, wrk_note
from infratests.load.control import SHAPE_FILE, ShapeControl
from infratests.load.pool import PoolSample, PoolSampler
from infratests.load.runner import LoadSpec, LocustRun
from infratests.load.steps import Step, between
from infratests.load.tallies import window

__all__ = ["SearchOptions", "say", "search_capacity"]


def say(line: str) -> None:
    """Print one progress line now (stdout may be a pipe: a worker recipe must not wait in a buffer)."""
    print(line, flush=True)


@dataclass(frozen=True)
class SearchOptions:
    """Seconds of warm-up and of measurement per step, refining steps, progress line period, and how
    long Locust may take to start (external workers connecting included)."""

    warmup_s: float = 2.0
    step_s: float = 10.0
    refine: int = 2
    progress_s: float = 5.0
    start_timeout_s: float = 60.0


@dataclass
class _Search:
    control: ShapeControl
    run: LocustRun
    budget: Budget
    options: SearchOptions
    sampler: PoolSampler | None
    echo: Callable[[str], None]

    def alive(self) -> bool:
        return self.run.running

    def measure(self, key: str, label: str, step: Step) -> StepResult:
        self.control.set(step)
        self._pause(self.options.warmup_s, None)
        begin = self.control.mark(f"{key}-begin", self.alive)
        self._pause(self.options.step_s, label)
        end = self.control.mark(f"{key}-end", self.alive)
        pool = self.sampler.window(float(begin["wall"]), float(end["wall"])) if self.sampler else None
        result = evaluate_step(label, step, window(begin, end), pool, self.budget)
        self.echo(_summary(result))
        return result

    def _pause(self, seconds: float, label: str | None) -> None:
        """Wait ``seconds``; with a label, print the rate and errors every ``progress_s``."""
        start = time.monotonic()
        last = self.control.live()
        while (elapsed := time.monotonic() - start) < seconds:
            time.sleep(min(self.options.progress_s if label else 0.2, max(0.0, seconds - elapsed)))
            if not self.alive():
                raise ServiceError(f"Locust ended during the capacity search; see {self.control.directory}",
                                   self.control.directory)
            now = self.control.live()
            if label and now and last and now["wall"] > last["wall"] and time.monotonic() - start < seconds:
                self.echo(_live_line(label, time.monotonic() - start, seconds, last, now))
            last = now or last


def search_capacity(spec: LoadSpec, steps: Sequence[Step], budget: Budget, out_dir: Path,
                    options: SearchOptions = SearchOptions(), pool: Callable[[], PoolSample] | None = None,
                    context: Mapping[str, Any] | None = None, echo: Callable[[str], None] = say,
                    reference: Callable[[StepResult | None], Mapping[str, Any]] | None = None) -> CapacityReport:
    """Walk ``steps`` (then refine) in one Locust run of ``spec``'s users; judge; write the reports.

    ``pool`` samples PgBouncer during the run; ``reference(knee)`` runs after
    Locust has stopped (e.g. wrk on the same endpoint) and its result joins
    the report's ``context``. Writes ``capacity.json``, ``capacity.md``,
    ``capacity.png`` and ``index.html`` into ``out_dir``; ``report.exit_code``
    is the budget's verdict.
    """
    if not steps:
        raise ConfigError("a capacity search needs at least one step", "steps")
    out_dir.mkdir(parents=True, exist_ok=True)
    control = ShapeControl(out_dir / "locust")
    control.set(steps[0])
    with ExitStack() as running:
        sampler = running.enter_context(PoolSampler(pool)) if pool else None
        run = running.enter_context(LocustRun(_shape_spec(spec, control.directory, len(steps), options),
                                              control.directory))
        control.wait_started(lambda: run.running, options.start_timeout_s)
        search = _Search(control, run, budget, options, sampler, echo)
        results = _walk(search, steps)
        control.stop()
        run.wait()
    context = dict(context or {})
    if reference is not None:
        context.update(reference(judge(results, budget).knee))
    report = judge(results, budget, context)
    write_reports(report, out_dir)
    echo(f"capacity: {report.verdict}")
    if (note := wrk_note(report)) is not None:
        echo(f"capacity: {note}")
    echo(f"capacity: report in {out_dir / 'index.html'}")
    return report


def _shape_spec(spec: LoadSpec, directory: Path, steps: int, options: SearchOptions) -> LoadSpec:
    per_step = options.warmup_s + options.step_s + 5.0
    return replace(spec, shape_file=SHAPE_FILE, spawn_rate=None, target_rps=None, rate_per_user=None,
                   env={**spec.env, "INFRATESTS_CAPACITY_DIR": str(directory)},
                   deadline_s=options.start_timeout_s + per_step * (steps + options.refine) + 60.0)


def _walk(search: _Search, steps: Sequence[Step]) -> list[StepResult]:
    results: list[StepResult] = []
    for index, step in enumerate(steps, 1):
        results.append(search.measure(f"s{index:02d}", f"step {index}/{len(steps)}", step))
        if results[-1].over_budget or results[-1].generator_bound:
            break
    else:
        return results  # every step met the budget: nothing to refine
    high = results[-1]
    within = [result for result in results if not result.over_budget]
    low = within[-1] if within else None
    for index in range(1, search.options.refine + 1):
        middle = between(low.step, high.step) if low is not None and not high.generator_bound else None
        if middle is None:
            break
        result = search.measure(f"r{index:02d}", f"refine {index}/{search.options.refine}", middle)
        results.append(result)
        low, high = (low, result) if result.over_budget or result.generator_bound else (result, high)
    return results


def _live_line(label: str, elapsed: float, total: float, last: Mapping[str, Any], now: Mapping[str, Any]) -> str:
    seconds = float(now["wall"]) - float(last["wall"])
    done = int(now["requests"]) - int(last["requests"])
    failed = int(now["failures"]) - int(last["failures"])
    errors = failed / done if done > 0 else 0.0
    return f"  {label}: {elapsed:.0f}/{total:g} s, {done / seconds:.0f} req/s, errors {errors:.2%}"


def _summary(result: StepResult) -> str:
    w = result.window
    achieved = f" ({result.achieved:.0%} of offered)" if result.achieved is not None else ""
    line = (f"{result.label}: {result.step.describe()}: {w.rps:.1f} req/s{achieved}, p50/p95/p99 "
            f"{w.p50_ms:g}/{w.p95_ms:g}/{w.p99_ms:g} ms, errors {w.error_rate:.2%}, generators busy "
            f"{result.generator_busy:.2f} ({len(w.generators)} processes)")
    if w.missing:
        line += f"; {len(w.missing)} Locust process(es) did not answer the step's tally: {', '.join(w.missing)}"
    if w.causes:
        line += "; causes: " + ", ".join(f"{cause.key} x{cause.count} ({cause.sample[:60]})" for cause in w.causes)
    if result.pool is not None:
        pool = result.pool
        line += (f"; PgBouncer: {pool.server_connections} server connections, {pool.clients_waiting} clients "
                 f"waiting (longest {pool.max_wait_ms:.0f} ms), {pool.transactions_per_s:.0f} xact/s")
    verdict = f"OVER BUDGET: {result.over_budget}" if result.over_budget else "within budget"
    if result.generator_bound:
        verdict += f"; generator-bound at {w.rps:.0f} req/s; add workers or machines"
    return f"{line} - {verdict}"
