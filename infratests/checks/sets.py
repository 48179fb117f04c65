"""Set checker: acknowledged writes survive (C-BK-1 restore, C-BK-5 Redis kill -9).

Adds are ops with ``f="add"`` and ``value=element``; the final read is the last
``ok`` op with ``f="read"`` whose value lists the elements present.

- ``lost``: an ``ok`` add missing from the final read (with ``acked_before=T``
  only adds acknowledged at or before ``T`` must be present: the loss an fsync
  window or a backup snapshot allows is counted in stats, not flagged);
- ``unexpected``: an element read that no add ever attempted;
- ``failed-but-present``: read although every add of it definitely failed;
- ``too-new``: with ``absent_after=T2``, an element first invoked after ``T2``
  is present (a snapshot taken at ``T2`` cannot contain it);
- ``never-read``: no ``ok`` final read (unless ``allow_empty`` and nothing was added).

An ``info`` add is indeterminate: present or absent are both fine; present ones
are counted as ``recovered``.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field

from infratests.checks.result import CheckResult, Violation, make_result
from infratests.history import History, Op, OpType

__all__ = ["check"]


@dataclass
class _Adds:
    invoked: dict[Hashable, Op] = field(default_factory=dict)  # first invoke per element
    ok: dict[Hashable, Op] = field(default_factory=dict)
    info: dict[Hashable, Op] = field(default_factory=dict)
    fail: dict[Hashable, Op] = field(default_factory=dict)
    final_read: Op | None = None


def check(history: History, *, claim: str, add: str = "add", read: str = "read",
          acked_before: float | None = None, absent_after: float | None = None,
          allow_empty: bool = False) -> CheckResult:
    """Check the final read holds every acknowledged add and nothing never attempted."""
    adds = _collect(history, add, read)
    if adds.final_read is None:
        missing = [] if allow_empty and not adds.invoked else [Violation.whole_run(
            "never-read", f"no ok {read!r}: {len(adds.ok)} acknowledged adds unchecked")]
        return make_result(claim, missing, _stats(adds, set(), 0, 0))
    present = set(adds.final_read.value or ())
    in_read_order = dict.fromkeys(adds.final_read.value or ())  # deterministic report order
    violations = _lost(adds, present, acked_before) + _extra(adds, in_read_order, absent_after)
    window_loss = sum(1 for e, op in adds.ok.items()
                      if e not in present and acked_before is not None and op.time > acked_before)
    recovered = sum(1 for e in adds.info if e in present and e not in adds.ok)
    return make_result(claim, violations, _stats(adds, present, window_loss, recovered))


def _collect(history: History, add: str, read: str) -> _Adds:
    adds, pending = _Adds(), {}
    by_type = {OpType.OK: adds.ok, OpType.INFO: adds.info, OpType.FAIL: adds.fail}
    for op in history.ops:
        if op.f == read and op.type is OpType.OK:
            adds.final_read = op
        elif op.f != add:
            continue
        elif op.type is OpType.INVOKE:
            pending[op.process] = op
            adds.invoked.setdefault(op.value, op)
        else:
            invoke = pending.pop(op.process, op)
            by_type[op.type].setdefault(invoke.value, op)
    return adds


def _lost(adds: _Adds, present: set[Hashable], acked_before: float | None) -> list[Violation]:
    read = adds.final_read
    assert read is not None
    return [Violation.at("lost", op, f"acknowledged add of {e!r} is missing from the final read",
                         (op, read))
            for e, op in adds.ok.items()
            if e not in present and (acked_before is None or op.time <= acked_before)]


def _extra(adds: _Adds, present: Iterable[Hashable], absent_after: float | None) -> list[Violation]:
    read = adds.final_read
    assert read is not None
    found: list[Violation] = []
    for e in present:
        first = adds.invoked.get(e)
        if first is None:
            found.append(Violation.at("unexpected", read, f"{e!r} was read but never added"))
        elif absent_after is not None and first.time > absent_after:
            found.append(Violation.at("too-new", read, f"{e!r} first added at t={first.time:.3f},"
                                      f" after the snapshot at t={absent_after:.3f}",
                                      (first, read)))
        elif e in adds.fail and e not in adds.ok and e not in adds.info:
            found.append(Violation.at("failed-but-present", read,
                                      f"{e!r} was read but its add definitely failed",
                                      (adds.fail[e], read)))
    return found


def _stats(adds: _Adds, present: set[Hashable], window_loss: int, recovered: int) -> dict:
    return {"attempted": len(adds.invoked), "acknowledged": len(adds.ok),
            "indeterminate": len(adds.info), "failed": len(adds.fail),
            "read_size": len(present), "recovered": recovered, "lost_in_window": window_loss}
