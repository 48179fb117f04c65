"""Circuit-breaker checker: a state-machine simulation over the calls (C-CB-1..3).

Calls are ops with ``f="call"``: ``ok`` (the dependency answered), ``fail`` or
``info`` (an error or a timeout: both count as failures, C-CB-1). Whether a
call reached the dependency is ``extra["reached_dependency"]`` on the
completion; without it, ``extra["state"] != "open"``; without both, the call
is assumed to have reached it (strict). A call that did not reach it was
rejected fast by the breaker.

The model breaker is decided at each call's invoke and updated at each
completion of a call that reached the dependency:

- CLOSED: ``threshold`` consecutive failures open it. A rejection while fewer
  failures (counting calls still in flight) were seen is ``rejected-while-closed``.
- OPEN: a call that started after the opening call ended and ended before the
  opening call started + ``reset_timeout`` must not reach the dependency:
  ``not-opened`` if the breaker has rejected nothing since (it never opened,
  C-CB-1), else ``reached-while-open`` (C-CB-2). The first call that reaches it
  afterwards is the trial (HALF_OPEN); a rejection starting later than the
  opening call's end + ``reset_timeout`` + ``tolerance`` is ``no-trial`` (C-CB-3).
- HALF_OPEN: any other call reaching the dependency is ``extra-trial``; the
  trial's success closes the breaker, its failure re-opens it.

The bounds use both ends of each call because the real breaker changed state
somewhere inside the call that changed it. Events are taken in history order
(which is time order); the simulation assumes calls through the breaker are
mostly serial, and overlapping calls are judged leniently.
The fault windows on ``target`` (when the dependency was failing, from the nemesis' operations in the
history) only feed ``stats["faults"]``.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence
from typing import Any

from infratests.checks.result import CheckResult, Violation, make_result
from infratests.history import History, Op, OpType

__all__ = ["check"]

_CLAIM_OF = {"rejected-while-closed": "C-CB-1", "not-opened": "C-CB-1",
             "reached-while-open": "C-CB-2", "no-trial": "C-CB-3", "extra-trial": "C-CB-3"}


def check(history: History, *, threshold: int, reset_timeout: float, claim: str, tolerance: float = 0.0,
          f: str = "call", target: str = "dependency", allow_empty: bool = False) -> CheckResult:
    """Simulate the breaker over the calls and report every transition it got wrong."""
    calls = _calls(history, f)
    machine = _Machine(threshold, reset_timeout, tolerance)
    for event, inv, comp, reached in _events(history, calls):
        if event == "decide":
            machine.decide(inv, comp, reached)
        else:
            machine.outcome(inv, comp)
    violations = machine.violations
    if not calls and not allow_empty:
        violations.append(Violation.whole_run("no-calls", f"no completed {f!r}: nothing checked"))
    reached_total = sum(1 for _, _, r in calls if r)
    return make_result(claim, violations, {
        "calls": len(calls), "reached": reached_total, "rejected": len(calls) - reached_total,
        "opened": sum(state == "open" for _, state in machine.transitions),
        "transitions": machine.transitions,
        "faults": _fault_stats(calls, [w.window for w in history.fault_windows(target=target)])})


def _calls(history: History, f: str) -> list[tuple[Op, Op, bool]]:
    """(invoke, completion, reached) per completed call, in invoke order."""
    return [(inv, comp, _reached(comp)) for inv, comp in history.pairs()
            if inv.f == f and comp is not None]


def _reached(comp: Op) -> bool:
    if "reached_dependency" in comp.extra:
        return bool(comp.extra["reached_dependency"])
    return comp.extra.get("state", "closed") != "open"


def _events(history: History, calls: list[tuple[Op, Op, bool]]
            ) -> Iterator[tuple[str, Op, Op, bool]]:
    """Decisions at invokes, outcomes at completions, in history (= time) order."""
    completed = {id(inv): (comp, reached) for inv, comp, reached in calls}
    pending: dict[int | str, Op] = {}
    for op in history.ops:
        if op.type is OpType.INVOKE:
            if id(op) in completed:
                pending[op.process] = op
                yield ("decide", op, *completed[id(op)])
        elif op.process in pending and pending[op.process].f == op.f:
            inv = pending.pop(op.process)
            if completed[id(inv)][1]:
                yield "outcome", inv, op, True


class _Machine:
    def __init__(self, threshold: int, reset_timeout: float, tolerance: float) -> None:
        self.threshold, self.reset, self.tolerance = threshold, reset_timeout, tolerance
        self.state, self.failures, self.in_flight = "closed", 0, 0
        self.opening: tuple[Op, Op] | None = None  # the call whose failure opened it
        self.rejected_since_open = 0
        self.roles: dict[int, str] = {}  # id(invoke) -> how its outcome counts
        self.violations: list[Violation] = []
        self.transitions: list[tuple[float, str]] = []

    def decide(self, inv: Op, comp: Op, reached: bool) -> None:
        if self.state == "closed":
            self._decide_closed(inv, comp, reached)
        elif self.state == "half-open":
            if reached:
                self._flag("extra-trial", comp, "a second call reached the dependency while "
                           "the trial call was in flight")
        else:
            self._decide_open(inv, comp, reached)

    def _decide_closed(self, inv: Op, comp: Op, reached: bool) -> None:
        if reached:
            self.roles[id(inv)] = "closed"
            self.in_flight += 1
        elif self.failures + self.in_flight < self.threshold:
            self._flag("rejected-while-closed", comp, f"rejected after only {self.failures} "
                       f"consecutive failure(s), threshold {self.threshold}")

    def _decide_open(self, inv: Op, comp: Op, reached: bool) -> None:
        assert self.opening is not None
        opened_inv, opened_comp = self.opening
        if not reached:
            self.rejected_since_open += 1
            due = opened_comp.time + self.reset + self.tolerance
            if inv.time > due:
                self._flag("no-trial", comp, f"rejected {inv.time - due:.3f}s after the reset "
                           f"timeout ({self.reset}s) expired", (opened_comp, comp))
        elif comp.time >= opened_inv.time + self.reset:
            self.roles[id(inv)] = "trial"
            self._enter("half-open", inv.time)
        elif inv.time > opened_comp.time:
            since = inv.time - opened_comp.time
            if self.rejected_since_open:
                self._flag("reached-while-open", comp, f"reached the dependency {since:.3f}s into "
                           f"the open period (reset timeout {self.reset}s)", (opened_comp, comp))
            else:
                self._flag("not-opened", comp, f"reached the dependency {since:.3f}s after the "
                           "failure that should have opened the breaker; nothing rejected since",
                           (opened_comp, comp))

    def outcome(self, inv: Op, comp: Op) -> None:
        role = self.roles.pop(id(inv), None)
        success = comp.type is OpType.OK
        if role == "trial":
            if success:
                self._close(comp.time)
            else:
                self._open(inv, comp)
        elif role == "closed":
            self.in_flight -= 1
            if self.state == "closed":
                self.failures = 0 if success else self.failures + 1
                if self.failures >= self.threshold:
                    self._open(inv, comp)

    def _open(self, inv: Op, comp: Op) -> None:
        self.opening, self.rejected_since_open, self.failures = (inv, comp), 0, 0
        self._enter("open", comp.time)

    def _close(self, time: float) -> None:
        self.failures = 0
        self._enter("closed", time)

    def _enter(self, state: str, time: float) -> None:
        self.state = state
        self.transitions.append((time, state))

    def _flag(self, kind: str, comp: Op, message: str, ops: tuple[Op, ...] = ()) -> None:
        self.violations.append(Violation.at(kind, comp, f"({_CLAIM_OF[kind]}) {message}", ops))


def _fault_stats(calls: list[tuple[Op, Op, bool]],
                 faults: Sequence[tuple[float, float]]) -> list[dict[str, Any]]:
    """Per fault window: calls reached/rejected, reached before the first rejection."""
    starts = [inv.time for inv, _, _ in calls]  # calls are in invoke order
    summary = []
    for start, end in faults:
        inside = calls[bisect_left(starts, start):bisect_left(starts, end)]
        first_reject = next((i for i, (_, _, r) in enumerate(inside) if not r), len(inside))
        reached = sum(r for _, _, r in inside)
        summary.append({
            "start": start, "end": end, "reached": reached, "rejected": len(inside) - reached,
            "reached_before_open": first_reject,
            "open_after": inside[first_reject][0].time - start if first_reject < len(inside)
            else None})
    return summary
