"""``index.html`` of the claims report: one row per claim (verdict, the scenarios behind it, the
failure, links to the evidence), then the run's tests with their timelines. Self-contained: no
script, no external asset; the PNGs sit next to it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from html import escape
from pathlib import Path

from infratests.report.claims import ClaimVerdict, ScenarioOutcome

__all__ = ["write_index"]

_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 78em; color: #212529; }
table { border-collapse: collapse; width: 100%; margin-bottom: 2em; }
th, td { border-bottom: 1px solid #dee2e6; padding: .35em .6em; vertical-align: top; text-align: left; }
th { background: #f1f3f5; }
.v { font-weight: 600; white-space: nowrap; }
.held { color: #2b8a3e; } .violated { color: #c92a2a; } .notjudged { color: #e67700; }
.skipped, .notcovered { color: #868e96; }
code, .msg { font: 12px ui-monospace, monospace; white-space: pre-wrap; }
img { max-width: 100%; border: 1px solid #dee2e6; margin: .3em 0 1.2em; }
"""


def write_index(folder: Path, title: str, about: Sequence[tuple[str, str]], claims: Sequence[ClaimVerdict],
                tests: Sequence[ScenarioOutcome]) -> Path:
    """Write ``folder/index.html``; ``about`` is (label, value) lines on the run (target, profile...)."""
    counts = Counter(verdict.verdict for verdict in claims)
    summary = ", ".join(f"{n} {verdict}" for verdict, n in sorted(counts.items()))
    rows = "\n".join(_claim_row(verdict) for verdict in claims)
    pictures = "\n".join(_test_section(test) for test in tests if test.timeline or test.outcome == "failed")
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title><style>{_STYLE}</style></head>
<body>
<h1>{escape(title)}</h1>
<p>{"<br>".join(f"<b>{escape(label)}</b>: {escape(value)}" for label, value in about)}</p>
<p><b>Claims</b>: {escape(summary)}. A claim is <i>violated</i> when a scenario naming it failed with
"&lt;claim&gt; violated"; <i>not judged</i> when one failed otherwise (setup, precondition);
<i>held</i> when its scenarios passed; <i>skipped</i> when all were skipped; <i>not covered</i> when
no scenario of this run names it.</p>
<table>
<tr><th>claim</th><th>verdict</th><th>what is claimed</th><th>scenarios</th></tr>
{rows}
</table>
<h2>Timelines</h2>
<p>Each operation's latency over time (green ok, red failed, orange no answer); the shaded bands are
the faults in force, labelled; below, throughput and error rate.</p>
{pictures or "<p>No scenario of this run recorded a history.</p>"}
</body></html>
"""
    folder.mkdir(parents=True, exist_ok=True)
    index = folder / "index.html"
    index.write_text(page)
    return index


def _claim_row(verdict: ClaimVerdict) -> str:
    css = verdict.verdict.replace(" ", "")
    tests = "<br>".join(_test_link(test) for test in verdict.tests)
    details = ""
    failed = [test for test in verdict.tests if test.outcome in ("failed", "error")]
    if failed:
        details = "".join(f'<div class="msg">{escape(test.message)}</div>' for test in failed[:3])
    elif verdict.verdict == "skipped":
        details = "".join(f'<div class="msg">{escape(reason)}</div>' for reason in verdict.reasons[:3])
    return (f'<tr id="{escape(verdict.claim)}"><td><code>{escape(verdict.claim)}</code></td>'
            f'<td class="v {css}">{escape(verdict.verdict)}</td><td>{escape(verdict.text)}</td>'
            f"<td>{tests}{details}</td></tr>")


def _test_link(test: ScenarioOutcome) -> str:
    name = escape(test.nodeid.split("::", 1)[-1])
    evidence = f' (<a href="{escape(test.evidence)}/">evidence</a>)' if test.evidence else ""
    anchor = f'<a href="#{escape(test.evidence)}">{name}</a>' if test.timeline or test.outcome == "failed" else name
    return f"{anchor} <i>{escape(test.outcome)}</i>{evidence}"


def _test_section(test: ScenarioOutcome) -> str:
    message = f'<div class="msg">{escape(test.message)}</div>' if test.message else ""
    picture = f'<img src="{escape(test.timeline)}" alt="timeline of {escape(test.nodeid)}">' if test.timeline else ""
    claims = ", ".join(test.claims) or "no claim id"
    return (f'<h3 id="{escape(test.evidence)}"><code>{escape(test.nodeid)}</code> — {escape(test.outcome)} '
            f"({escape(claims)}, {test.duration_s:.1f} s)</h3>{message}{picture}")
