"""The capacity plot (``capacity.png``): throughput, p50/p95/p99 (log axis) and error rate per step.

One figure, three panels over the offered load, each with its budget line:
the knee (dashed), steps over budget (x), generator-bound steps (purple
square). Matplotlib is imported here only (never when the package loads).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from infratests.load.capacity_result import CapacityReport, StepResult

__all__ = ["write_plot"]


def write_plot(report: CapacityReport, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = sorted(report.steps, key=lambda step: step.step.offered)
    fig, (rate, latency, errors) = plt.subplots(3, 1, figsize=(8, 9.5), dpi=100, sharex=True)
    try:
        _throughput(rate, report, steps)
        _latency(latency, report, steps)
        _errors(errors, report, steps)
        errors.set_xlabel("offered load (req/s)" if report.mode == "rate" else "offered load (users)")
        rate.set_xscale("log", base=2)
        errors.set_xticks(_offered(steps), [f"{x:g}" for x in _offered(steps)], rotation=45, fontsize=8)
        errors.minorticks_off()
        knee = "no knee" if report.knee is None else f"knee at {report.knee.step.describe()}"
        rate.set_title(f"capacity: {knee}" + (" (a lower bound)" if report.knee and report.lower_bound else ""))
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)


def _offered(steps: list[StepResult]) -> list[float]:
    return [step.step.offered for step in steps]


def _throughput(axis: Any, report: CapacityReport, steps: list[StepResult]) -> None:
    axis.plot(_offered(steps), [s.rps for s in steps], "o-", color="tab:blue", label="achieved req/s")
    if report.mode == "rate":
        axis.plot(_offered(steps), _offered(steps), ":", color="gray", label="offered req/s")
    if report.budget.min_rps is not None:
        axis.axhline(report.budget.min_rps, color="tab:blue", linewidth=0.8, linestyle="--",
                     label=f"min_rps {report.budget.min_rps:g}")
    _marks(axis, report, steps, [s.rps for s in steps])
    axis.set_ylabel("req/s")
    axis.legend(loc="best", fontsize=8)


def _latency(axis: Any, report: CapacityReport, steps: list[StepResult]) -> None:
    for name, color in (("p50_ms", "tab:green"), ("p95_ms", "tab:orange"), ("p99_ms", "tab:red")):
        values = [max(getattr(s.window, name), 0.5) for s in steps]  # a log axis has no 0 ms
        axis.plot(_offered(steps), values, "o-", color=color, label=name[:3])
    axis.axhline(report.budget.p99_ms, color="tab:red", linewidth=0.8, linestyle="--",
                 label=f"p99 budget {report.budget.p99_ms:g} ms")
    axis.set_yscale("log")
    axis.set_ylabel("latency (ms, log)")
    _marks(axis, report, steps, [max(s.window.p99_ms, 0.5) for s in steps])
    axis.legend(loc="best", fontsize=8)


def _errors(axis: Any, report: CapacityReport, steps: list[StepResult]) -> None:
    axis.plot(_offered(steps), [100 * s.error_rate for s in steps], "o-", color="tab:purple", label="errors")
    axis.axhline(100 * report.budget.max_error_rate, color="tab:purple", linewidth=0.8, linestyle="--",
                 label=f"max_error_rate {report.budget.max_error_rate:.2%}")
    _marks(axis, report, steps, [100 * s.error_rate for s in steps])
    axis.set_ylabel("errors (% of requests)")
    axis.legend(loc="best", fontsize=8)


def _marks(axis: Any, report: CapacityReport, steps: list[StepResult], values: list[float]) -> None:
    over = [(s.step.offered, v) for s, v in zip(steps, values, strict=True) if s.over_budget]
    if over:
        axis.scatter(*zip(*over, strict=True), marker="x", s=80, color="black", zorder=5, label="over budget")
    bound = [(s.step.offered, v) for s, v in zip(steps, values, strict=True) if s.generator_bound]
    if bound:
        axis.scatter(*zip(*bound, strict=True), marker="s", facecolors="none", edgecolors="purple", s=120,
                     zorder=5, label="generator-bound")
    if report.knee is not None:
        axis.axvline(report.knee.step.offered, color="gray", linestyle="--", linewidth=1, label="knee")
