"""Capacity report files (C-CAP-1): ``capacity.json``, ``capacity.md`` and ``capacity.png``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from infratests.load.capacity import CapacityReport

__all__ = ["write_json", "write_markdown", "write_plot", "write_reports"]


def write_reports(report: CapacityReport, out_dir: Path) -> dict[str, Path]:
    """All three files; returns their paths by kind."""
    paths = {"json": out_dir / "capacity.json", "markdown": out_dir / "capacity.md",
             "plot": out_dir / "capacity.png"}
    write_json(report, paths["json"])
    write_markdown(report, paths["markdown"])
    write_plot(report, paths["plot"])
    return paths


def write_json(report: CapacityReport, path: Path) -> None:
    path.write_text(json.dumps(report.to_dict(), indent=2) + "\n")


def _offered_label(report: CapacityReport) -> str:
    return "offered load (req/s)" if report.mode == "rate" else "offered load (users)"


def write_markdown(report: CapacityReport, path: Path) -> None:
    budget = report.budget
    lines = [
        "# Capacity (C-CAP-1, C-CAP-2)", "",
        f"Budget per step: p99 <= {budget.p99_ms:g} ms, errors <= {budget.max_error_rate:.2%}.",
        (f"Targets: min_rps {budget.min_rps if budget.min_rps is not None else '-'}, "
         f"min_users {budget.min_users if budget.min_users is not None else '-'}."), "",
        f"| {_offered_label(report)} | users | req/s | p50 ms | p95 ms | p99 ms | errors | locust cpu | verdict |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for step in report.steps:
        verdict = step.over_budget or "ok"
        if step.generator_saturated:
            verdict += " (generator saturated)"
        lines.append(f"| {step.step.offered:g} | {step.step.users} | {step.rps:.1f} | {step.p50_ms:g} | "
                     f"{step.p95_ms:g} | {step.p99_ms:g} | {step.error_rate:.2%} | {step.cpu_cores:.2f} | "
                     f"{verdict} |")
    knee = report.knee
    lines += ["", "**Knee:** " + ("none (the first step was already over budget)" if knee is None else
                                  f"{knee.step.offered:g} ({knee.rps:.1f} req/s, p99 {knee.p99_ms:g} ms)")]
    if report.exhausted:
        lines.append("Every step met the budget: the knee is a lower bound; add steps to find the real one.")
    if report.limited_by_generator:
        lines.append("**The limit is the load generator** (a Locust process near one full core): "
                     "add workers (`workers=N`) before concluding about the system.")
    lines.append("**Budget:** " + ("PASS" if report.passed else "FAIL - " + "; ".join(report.missed)))
    path.write_text("\n".join(lines) + "\n")


def write_plot(report: CapacityReport, path: Path) -> None:
    """Throughput and p50/p95/p99 vs offered load; over-budget steps marked, knee as a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = [step.step.offered for step in report.steps]
    fig, rps_axis = plt.subplots(figsize=(8, 4.5), dpi=100)
    try:
        rps_axis.plot(x, [s.rps for s in report.steps], "o-", color="tab:blue", label="throughput")
        rps_axis.set_xlabel(_offered_label(report))
        if report.mode == "users":
            rps_axis.set_xscale("log", base=2)
        rps_axis.set_ylabel("req/s", color="tab:blue")
        latency = rps_axis.twinx()
        for name, color in (("p50_ms", "tab:green"), ("p95_ms", "tab:orange"), ("p99_ms", "tab:red")):
            latency.plot(x, [getattr(s, name) for s in report.steps], ".--", color=color, label=name[:3])
        latency.axhline(report.budget.p99_ms, color="tab:red", linewidth=0.8, linestyle=":",
                        label="p99 budget")
        latency.set_ylabel("latency (ms)")
        _mark(rps_axis, report)
        handles = rps_axis.get_legend_handles_labels()
        more = latency.get_legend_handles_labels()
        rps_axis.legend(handles[0] + more[0], handles[1] + more[1], loc="best", fontsize=8)
        rps_axis.set_title("capacity: " + ("no knee" if report.knee is None else
                                           f"knee at {report.knee.step.offered:g}"))
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)


def _mark(axis: object, report: CapacityReport) -> None:
    over = [s for s in report.steps if s.over_budget]
    axis.scatter([s.step.offered for s in over], [s.rps for s in over], marker="x", s=80,  # type: ignore[attr-defined]
                 color="black", zorder=5, label="over budget (errors/p99)")
    saturated = [s for s in report.steps if s.generator_saturated]
    if saturated:
        axis.scatter([s.step.offered for s in saturated], [s.rps for s in saturated],  # type: ignore[attr-defined]
                     marker="s", facecolors="none", edgecolors="purple", s=120, label="generator saturated")
    if report.knee is not None:
        axis.axvline(report.knee.step.offered, color="gray", linestyle="--", linewidth=1,  # type: ignore[attr-defined]
                     label="knee")
