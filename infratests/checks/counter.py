"""Counter checker: an increment-only counter reads within its possible bounds (C-OBS-2).

E.g. requests sent are the increments and each scrape of ``http_requests_total``
is a read.

Increments are ops with ``f="add"`` and a non-negative ``value``; reads are
ops with ``f="read"`` whose ``ok`` value is the counter. Each ``ok`` read must
lie between

- the lower bound: ``initial`` plus every increment that completed ``ok``
  before the read was invoked (those certainly happened, and before it), and
- the upper bound: ``initial`` plus every increment invoked before the read
  completed, except those that completed ``fail`` (they certainly did not happen).

An ``info`` increment may or may not have happened, so it counts only toward
the upper bound; ``info`` and ``fail`` reads carry no value and are counted.
Violations: ``read-below-bound``, ``read-above-bound`` (severity = distance),
and ``no-reads`` unless ``allow_empty``.
"""

from __future__ import annotations

from infratests.checks.result import CheckResult, Violation, make_result
from infratests.history import History, Op, OpType

__all__ = ["check"]


def check(history: History, *, claim: str, add: str = "add", read: str = "read",
          initial: float = 0, allow_empty: bool = False) -> CheckResult:
    """Check every ok read lies within the counter's lower and upper bounds."""
    failed = _failed_invokes(history, add)
    lower = upper = initial
    read_lower: dict[int | str, float] = {}
    violations: list[Violation] = []
    counts = dict.fromkeys(("reads_ok", "reads_other", "adds_ok", "adds_info", "adds_fail"), 0)
    for i, op in enumerate(history.ops):
        if op.f == add:
            if op.type is OpType.INVOKE:
                upper += 0 if i in failed else op.value
            else:
                counts[f"adds_{op.type.value}"] += 1
                lower += op.value if op.type is OpType.OK else 0
        elif op.f == read:
            if op.type is OpType.INVOKE:
                read_lower[op.process] = lower
                continue
            low = read_lower.pop(op.process, lower)
            if op.type is not OpType.OK:
                counts["reads_other"] += 1
                continue
            counts["reads_ok"] += 1
            if not low <= op.value <= upper:
                violations.append(_out_of_bounds(op, low, upper))
    if not counts["reads_ok"] and not allow_empty:
        violations.append(Violation.whole_run("no-reads", f"no ok {read!r}: nothing was checked"))
    return make_result(claim, violations, {**counts, "final_lower": lower, "final_upper": upper})


def _out_of_bounds(op: Op, low: float, upper: float) -> Violation:
    if op.value < low:
        return Violation.at("read-below-bound", op, f"read {op.value} < lower bound {low} "
                            "(increments acknowledged before the read)", severity=low - op.value)
    return Violation.at("read-above-bound", op, f"read {op.value} > upper bound {upper} "
                        "(increments attempted before the read ended)", severity=op.value - upper)


def _failed_invokes(history: History, add: str) -> set[int]:
    """Indices of increment invokes whose completion was ``fail``."""
    pending: dict[int | str, int] = {}
    failed: set[int] = set()
    for i, op in enumerate(history.ops):
        if op.f != add:
            continue
        if op.type is OpType.INVOKE:
            pending[op.process] = i
        elif op.process in pending:
            index = pending.pop(op.process)
            if op.type is OpType.FAIL:
                failed.add(index)
    return failed
