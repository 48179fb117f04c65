"""What a checker returns, and how a violated claim reads in a failure message.

Every checker is a pure function ``check(history, ..., claim=...) -> CheckResult``.
:func:`assert_holds` turns an invalid result into :class:`~infratests.errors.CheckFailed`
whose text names the claim, each kind of violation, the first, worst and last
violation with its time, and the operations involved.
"""

from __future__ import annotations

import reprlib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from infratests.errors import CheckFailed
from infratests.history import Op

__all__ = ["Violation", "CheckResult", "assert_holds", "make_result", "format_op"]

_repr = reprlib.Repr()
_repr.maxstring, _repr.maxother = 40, 40
_repr.maxlist = _repr.maxtuple = _repr.maxset = _repr.maxdict = 6
_STAT_WIDTH = 8  # scalar stats shown in the message; lists and tables stay in ``stats``


@dataclass(frozen=True, slots=True)
class Violation:
    """One way the claim was broken, at a point in the history.

    ``time``/``wall`` come from the operation that exposed it (monotonic / epoch
    seconds); ``severity`` ranks violations (claim-specific units, e.g. how far a
    total is off, how long two sections overlap): the worst has the highest.
    """

    kind: str
    time: float
    wall: float
    message: str
    ops: tuple[Op, ...] = ()
    severity: float = 1.0

    @classmethod
    def at(cls, kind: str, op: Op, message: str, ops: Iterable[Op] = (),
           severity: float = 1.0) -> Violation:
        """A violation timed by ``op``; ``ops`` defaults to ``(op,)``."""
        return cls(kind, op.time, op.wall, message, tuple(ops) or (op,), severity)

    @classmethod
    def whole_run(cls, kind: str, message: str) -> Violation:
        """A violation of the history as a whole (e.g. nothing was checked)."""
        return cls(kind, 0.0, 0.0, message)

    def describe(self) -> str:
        ops = "; ".join(format_op(op) for op in self.ops)
        when = _when(self.time, self.wall) if self.ops or self.wall else "whole run"
        return f"{when} {self.kind}: {self.message}" + (
            f"\n      ops: {ops}" if ops else "")


@dataclass(frozen=True)
class CheckResult:
    """The verdict of one checker on one history for one claim id."""

    claim: str
    valid: bool
    violations: tuple[Violation, ...] = ()
    stats: Mapping[str, Any] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """Number of violations per kind, in order of first appearance."""
        return dict(Counter(v.kind for v in self.violations))

    @property
    def first(self) -> Violation | None:
        return min(self.violations, key=lambda v: v.time, default=None)

    @property
    def last(self) -> Violation | None:
        return max(self.violations, key=lambda v: v.time, default=None)

    @property
    def worst(self) -> Violation | None:
        # ties go to the earliest violation, so "worst" is stable
        return max(self.violations, key=lambda v: (v.severity, -v.time), default=None)

    def describe(self) -> str:
        """A compact, readable account of the verdict (the failure message)."""
        if self.valid:
            return f"{self.claim} holds ({_scalar_stats(self.stats)})"
        kinds = ", ".join(f"{kind} x{n}" for kind, n in self.counts().items())
        lines = [f"{self.claim} violated: {len(self.violations)} violation(s): {kinds}"]
        labels: dict[int, tuple[list[str], Violation]] = {}
        for label, v in (("first", self.first), ("worst", self.worst), ("last", self.last)):
            if v is not None:
                labels.setdefault(id(v), ([], v))[0].append(label)
        lines += [f"  {'/'.join(names)}: {v.describe()}" for names, v in labels.values()]
        lines.append(f"  stats: {_scalar_stats(self.stats)}")
        return "\n".join(lines)


def make_result(claim: str, violations: Iterable[Violation],
                stats: Mapping[str, Any] | None = None) -> CheckResult:
    """A result that is valid exactly when there are no violations."""
    found = tuple(violations)
    return CheckResult(claim, not found, found, dict(stats or {}))


def assert_holds(result: CheckResult) -> CheckResult:
    """Return ``result`` if valid, else raise :class:`CheckFailed` (subject: the result)."""
    if not result.valid:
        raise CheckFailed(result.describe(), subject=result)
    return result


def format_op(op: Op) -> str:
    """``p3 ok read {'a': 10, ...} status=200 @t=12.301``: bounded length, even for huge values."""
    text = f"p{op.process} {op.type.value} {op.f}"
    if op.value is not None:
        text += f" {_repr.repr(op.value)}"
    if op.error:
        text += f" error={_repr.repr(op.error)}"
    if op.extra:
        text += " " + " ".join(f"{k}={_repr.repr(v)}" for k, v in list(op.extra.items())[:4])
    return f"{text} @t={op.time:.3f}"


def _when(time: float, wall: float) -> str:
    if wall <= 0:
        return f"t={time:.3f}"
    clock = datetime.fromtimestamp(wall, UTC).strftime("%H:%M:%S.%f")[:-3]
    return f"t={time:.3f} ({clock}Z)"


def _scalar_stats(stats: Mapping[str, Any]) -> str:
    scalars = [(k, v) for k, v in stats.items() if isinstance(v, (int, float, str, bool))]
    shown = ", ".join(f"{k}={_fmt(v)}" for k, v in scalars[:_STAT_WIDTH])
    return shown or "no stats"


def _fmt(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)
