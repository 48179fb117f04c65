"""Bank checker: money is neither created nor destroyed (C-TX-3; C-BK-1 on a restored copy).

A read is an op with ``f="read"`` whose ``ok`` value is ``{account: balance}``.
Only ``ok`` reads are checked: a ``fail`` read saw nothing and an ``info`` read
(timeout, reset) returned no value we can trust, so both are only counted.
Transfers are not inspected; the invariant is on what reads observe.

Violations: ``wrong-total`` (sum of balances != ``total``; severity = how far
off), ``negative-balance`` (unless ``allow_negative``), ``unexpected-account``,
``missing-account``, ``malformed-read`` (value is not a mapping) and, unless
``allow_empty``, ``no-reads`` when no read succeeded (nothing was checked).
``stats["totals"]`` is the total over time as ``(time, total)`` points.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from infratests.checks.result import CheckResult, Violation, make_result
from infratests.history import History, Op, OpType

__all__ = ["check"]


def check(history: History, *, total: float, accounts: Collection[str],
          claim: str, read: str = "read", allow_negative: bool = False,
          allow_empty: bool = False) -> CheckResult:
    """Check every ok read sums to ``total`` over exactly ``accounts``, none negative."""
    expected = frozenset(accounts)
    violations: list[Violation] = []
    totals: list[tuple[float, float]] = []
    counts = {OpType.OK: 0, OpType.FAIL: 0, OpType.INFO: 0}
    for op in history.ops:
        if op.f != read or op.type is OpType.INVOKE:
            continue
        counts[op.type] += 1
        if op.type is OpType.OK:
            _check_read(op, total, expected, allow_negative, violations, totals)
    if not totals and not allow_empty:
        violations.append(Violation.whole_run(
            "no-reads", f"no ok {read!r} in {len(history)} ops: nothing was checked"))
    observed = [t for _, t in totals]
    stats = {"reads_ok": counts[OpType.OK], "reads_fail": counts[OpType.FAIL],
             "reads_info": counts[OpType.INFO], "expected_total": total,
             "min_total": min(observed, default=total), "max_total": max(observed, default=total),
             "totals": totals}
    return make_result(claim, violations, stats)


def _check_read(op: Op, total: float, expected: frozenset[str], allow_negative: bool,
                out: list[Violation], totals: list[tuple[float, float]]) -> None:
    balances = op.value
    if type(balances) is not dict and not isinstance(balances, Mapping):
        out.append(Violation.at("malformed-read", op, "ok read value is not {account: balance}"))
        return
    seen = sum(balances.values())
    totals.append((op.time, seen))
    if seen != total:
        out.append(Violation.at("wrong-total", op, f"total {seen} != expected {total}",
                                severity=abs(seen - total)))
    if not allow_negative:
        negative = {a: b for a, b in balances.items() if b < 0}
        if negative:
            out.append(Violation.at("negative-balance", op, f"negative balances {negative}",
                                    severity=-min(negative.values())))
    if len(balances) != len(expected) or balances.keys() != expected:
        _check_accounts(op, balances.keys(), expected, out)


def _check_accounts(op: Op, seen: Collection[str], expected: frozenset[str],
                    out: list[Violation]) -> None:
    unexpected, missing = set(seen) - expected, expected - set(seen)
    if unexpected:
        out.append(Violation.at("unexpected-account", op,
                                f"accounts {sorted(unexpected, key=str)} are not in the bank",
                                severity=len(unexpected)))
    if missing:
        out.append(Violation.at("missing-account", op,
                                f"accounts {sorted(missing, key=str)} are missing",
                                severity=len(missing)))
