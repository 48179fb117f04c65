"""Mutex checker: no two critical sections of one job overlap (C-LOCK-1, C-LOCK-4).

A critical section is an op with ``f="section"`` whose completion value is
``{"job": ..., "token": ..., "start": float, "end": float}``, both times read
from one clock (Postgres ``clock_timestamp()`` as epoch seconds), so sections
of different workers compare without client clock skew.

- ``overlap``: two ``ok`` sections of the same job overlap (severity = seconds);
- ``malformed-section``: an ``ok`` section without a valid start <= end.

An ``info`` section may have run: those with both times are swept with the
rest, and an overlap involving one is a ``possible-overlap``. Possible overlaps
are reported separately in ``stats["possible"]`` and are violations only with
``count_info=True``. Unless ``allow_empty``, ``no-sections`` flags a history
without any ok section. Runs in O(n log n): one sort by start per job.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import NamedTuple

from infratests.checks.result import CheckResult, Violation, make_result
from infratests.history import History, Op, OpType

__all__ = ["check"]


class _Section(NamedTuple):
    start: float
    end: float
    ok: bool
    token: object
    op: Op


def check(history: History, *, claim: str, f: str = "section",
          count_info: bool = False, allow_empty: bool = False) -> CheckResult:
    """Check that no two ok sections of a job overlap; info sections only possibly."""
    jobs, malformed, untimed = _sections(history, f)
    found: list[Violation] = []
    for job, sections in jobs.items():
        found += _sweep(job, sections)
    overlaps = [v for v in found if v.kind == "overlap"]
    possible = tuple(v for v in found if v.kind == "possible-overlap")
    violations = malformed + overlaps + (list(possible) if count_info else [])
    n_ok = sum(s.ok for sections in jobs.values() for s in sections)
    if not n_ok and not malformed and not allow_empty:
        violations.append(Violation.whole_run("no-sections", f"no ok {f!r}: nothing was checked"))
    stats = {"jobs": len(jobs), "sections_ok": n_ok,
             "sections_info": sum(len(s) for s in jobs.values()) - n_ok + untimed,
             "info_untimed": untimed, "possible_overlaps": len(possible),
             "max_overlap": max((v.severity for v in overlaps), default=0.0),
             "possible": possible}
    return make_result(claim, violations, stats)


def _sections(history: History,
              f: str) -> tuple[dict[Hashable, list[_Section]], list[Violation], int]:
    """Timed sections per job, ok sections without valid times, info sections without times."""
    jobs: dict[Hashable, list[_Section]] = {}
    malformed: list[Violation] = []
    untimed = 0
    for op in history.ops:
        if op.f != f or op.type not in (OpType.OK, OpType.INFO):
            continue
        value = op.value if type(op.value) is dict or isinstance(op.value, Mapping) else {}
        start, end = value.get("start"), value.get("end")
        if start is None or end is None or end < start:
            if op.type is OpType.OK:
                malformed.append(Violation.at("malformed-section", op,
                                              "ok section needs numeric start <= end"))
            else:
                untimed += 1
            continue
        section = _Section(start, end, op.type is OpType.OK, value.get("token"), op)
        jobs.setdefault(value.get("job"), []).append(section)
    return jobs, malformed, untimed


def _sweep(job: Hashable, sections: list[_Section]) -> list[Violation]:
    """Sort by start; a section overlaps another iff it starts before the latest end so far."""
    found: list[Violation] = []
    last_ok: _Section | None = None  # the ok section ending latest so far
    last_any: _Section | None = None  # the section (ok or info) ending latest so far
    for s in sorted(sections, key=lambda s: s.start):
        if s.ok and last_ok is not None and s.start < last_ok.end:
            found.append(_overlap("overlap", job, last_ok, s))
        elif last_any is not None and s.start < last_any.end:
            found.append(_overlap("possible-overlap", job, last_any, s))
        if s.ok and (last_ok is None or s.end > last_ok.end):
            last_ok = s
        if last_any is None or s.end > last_any.end:
            last_any = s
    return found


def _overlap(kind: str, job: Hashable, a: _Section, b: _Section) -> Violation:
    amount = min(a.end, b.end) - b.start
    return Violation(kind, b.op.time, b.op.wall, f"job {job!r}: token {b.token} {_span(b)} "
                     f"overlaps token {a.token} {_span(a)} by {amount:.6f}s", (a.op, b.op), amount)


def _span(s: _Section) -> str:
    return f"[{s.start:.6f}, {s.end:.6f}]{'' if s.ok else ' (info)'}"
