"""Capacity report files (C-CAP-1): ``index.html``, ``capacity.json``, ``capacity.md``, ``capacity.png``.

``index.html`` is for a person: the verdict and its reason, what limited the
knee, wrk's rate on the same endpoint, the plot, the step table (achieved vs
offered rate, percentiles, errors and their causes, the generators' CPU,
PgBouncer's pool), the budget, the profile and the machine. The JSON holds
everything; the Markdown is the short form.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from infratests.load.capacity_plots import write_plot
from infratests.load.capacity_result import CapacityReport, StepResult, wrk_note

__all__ = ["write_reports"]


def write_reports(report: CapacityReport, out_dir: Path) -> dict[str, Path]:
    """All four files; returns their paths by kind."""
    paths = {"html": out_dir / "index.html", "json": out_dir / "capacity.json",
             "markdown": out_dir / "capacity.md", "plot": out_dir / "capacity.png"}
    paths["json"].write_text(json.dumps(report.to_dict(), indent=2) + "\n")
    paths["markdown"].write_text(_markdown(report))
    write_plot(report, paths["plot"])
    paths["html"].write_text(_html(report))
    return paths


def _notes(report: CapacityReport) -> list[str]:
    notes = [f"Limited by {report.limit}."]
    if report.lower_bound:
        notes.append("The knee is a lower bound: the system may do more.")
    if (wrk := wrk_note(report)) is not None:
        notes.append(wrk + ".")
    return notes


def _causes(step: StepResult) -> str:
    return "; ".join(f"{c.key} x{c.count}: {c.sample}" for c in step.causes) or "-"


def _pool(step: StepResult) -> str:
    pool = step.pool
    if pool is None:
        return "-"
    return (f"{pool.server_connections} server conns, {pool.clients_waiting} waiting (longest "
            f"{pool.max_wait_ms:.0f} ms), {pool.transactions_per_s:.0f} xact/s, mean wait {pool.mean_wait_ms:.1f} ms")


def _row(step: StepResult) -> list[str]:
    w = step.window
    achieved = f"{w.rps:.1f}" + (f" ({step.achieved:.0%})" if step.achieved is not None else "")
    verdict = step.over_budget or "ok"
    if step.generator_bound:
        verdict += "; generator-bound"
    cpu = ", ".join(f"{g.role} {g.cpu_cores:.2f}/{g.busy:.2f}" for g in w.generators)
    return [step.label, f"{step.step.offered:g}", str(step.step.users), achieved, f"{w.p50_ms:g}",
            f"{w.p95_ms:g}", f"{w.p99_ms:g}", f"{w.error_rate:.2%}", _causes(step), cpu, _pool(step), verdict]


_HEADER = ["step", "offered", "users", "req/s (of offered)", "p50 ms", "p95 ms", "p99 ms", "errors",
           "causes (sample message)", "generators cpu/busy (cores)", "PgBouncer", "verdict"]


def _budget_line(report: CapacityReport) -> str:
    return ", ".join(f"{key} {value:g}" for key, value in report.budget.to_dict().items() if value is not None)


def _markdown(report: CapacityReport) -> str:
    lines = ["# Capacity (C-CAP-1, C-CAP-2)", "", f"**{report.verdict}**", "", *_notes(report), "",
             f"Budget: {_budget_line(report)}.", "", "| " + " | ".join(_HEADER) + " |",
             "|" + "---|" * len(_HEADER)]
    lines += ["| " + " | ".join(cell.replace("|", "/") for cell in _row(step)) + " |" for step in report.steps]
    knee = report.knee
    lines += ["", "**Knee:** " + ("none (no step met the budget)" if knee is None else
                                  f"{knee.step.offered:g} ({knee.rps:.1f} req/s, p99 {knee.window.p99_ms:g} ms)"),
              "**Budget:** " + ("PASS" if report.passed else "FAIL - " + "; ".join(report.missed))]
    return "\n".join(lines) + "\n"


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(cell)}</th>" for cell in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _facts(title: str, facts: Any) -> str:
    if not facts:
        return ""
    if isinstance(facts, dict):
        rows = [[str(key), value if isinstance(value, str) else json.dumps(value)] for key, value in facts.items()]
        return f"<h2>{escape(title)}</h2>" + _table(["", ""], rows)
    items = "".join(f"<li>{escape(str(item))}</li>" for item in facts)
    return f"<h2>{escape(title)}</h2><ul>{items}</ul>"


_STYLE = ("body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em}"
          "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;"
          "vertical-align:top}.pass{background:#e6f4e6}.fail{background:#fbe4e4}.verdict{padding:.8em;"
          "font-size:1.1em}img{max-width:100%}")


def _html(report: CapacityReport) -> str:
    context = report.context
    sections = [
        f"<h1>Capacity report</h1><div class='verdict {'pass' if report.passed else 'fail'}'>"
        f"<b>{escape(report.verdict)}</b></div>",
        "<ul>" + "".join(f"<li>{escape(note)}</li>" for note in _notes(report)) + "</ul>",
        "<img src='capacity.png' alt='throughput, latency percentiles and error rate per step'>",
        "<h2>Steps</h2>" + _table(_HEADER, [_row(step) for step in report.steps]),
        f"<h2>Budget</h2><p>{escape(_budget_line(report))}</p>",
        _facts("Target", context.get("target")), _facts("Per-client limits lifted", context.get("lifted")),
        _facts("Profile", context.get("profile")), _facts("Machine", context.get("machine")),
    ]
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>Capacity report</title>"
            f"<style>{_STYLE}</style></head><body>{''.join(sections)}</body></html>\n")
