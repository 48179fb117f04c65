"""Unique-id checker: every id a generator acknowledged is distinct (e.g. C-OBS-1 request ids).

Generations are ops with ``f="generate"`` whose ``ok`` value is the (hashable)
id. ``info`` and ``fail`` generations returned no id and are only counted.
Violations: ``duplicate-id`` at each repeat, naming the op that first returned
it (severity = copies seen so far), and ``no-ids`` unless ``allow_empty``.
"""

from __future__ import annotations

from collections.abc import Hashable

from infratests.checks.result import CheckResult, Violation, make_result
from infratests.history import History, Op, OpType

__all__ = ["check"]


def check(history: History, *, claim: str, f: str = "generate",
          allow_empty: bool = False) -> CheckResult:
    """Check no id is returned by two ok generations."""
    first: dict[Hashable, Op] = {}
    copies: dict[Hashable, int] = {}
    violations: list[Violation] = []
    other = 0
    for op in history.ops:
        if op.f != f or op.type is OpType.INVOKE:
            continue
        if op.type is not OpType.OK:
            other += 1
        elif op.value not in first:
            first[op.value] = op
        else:
            n = copies[op.value] = copies.get(op.value, 1) + 1
            violations.append(Violation.at("duplicate-id", op, f"id {op.value!r} returned {n} "
                                           "times", (first[op.value], op), severity=n))
    if not first and not allow_empty:
        violations.append(Violation.whole_run("no-ids", f"no ok {f!r}: nothing was checked"))
    return make_result(claim, violations, {"ids": len(first), "duplicated_ids": len(copies),
                                           "not_ok": other})
