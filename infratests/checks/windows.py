"""Zero-failure windows: no request fails while a fault is healed around it
(C-GS-4 rolling restart, C-NGX-6 failed upstream, C-HL readiness).

Requests are the clients' ops (any ``f``, or only ``f`` if given; never the
nemesis') whose completion carries an HTTP status in ``extra["status"]``,
``value["status"]`` or as an int ``value``. The checked window is a fault's, as
the nemesis recorded it in the history (``fault``/``target``: from the first
matching fault's start to the last one's heal), or ``window`` (``(start, end)``
monotonic seconds), or else the whole run. A request belongs to it when
``[invoke, completion]`` intersects it. Inside it, each of these is a violation:

- ``failed``: a ``fail`` completion;
- ``indeterminate``: an ``info`` completion (a timeout or reset: the user saw
  no answer, so for a zero-failure claim it counts as a failure);
- ``bad-status``: an ``ok`` completion whose status is not in ``allowed``.

Requests the run ended before completing are counted, not judged; unless
``allow_empty``, ``no-requests`` flags a window no request touched.
``stats["phases"]`` counts outcomes per named phase by invoke time (default
:func:`around` the window: before/during/after).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping

from infratests.checks.result import CheckResult, Violation, make_result
from infratests.history import History, Op, OpType

__all__ = ["check", "around", "status_of"]

Window = tuple[float, float]
_WHOLE_RUN: Window = (-math.inf, math.inf)
_OK_STATUSES = range(200, 400)


def around(start: float, end: float) -> dict[str, Window]:
    """Phases before, during and after a fault ``(start, end)``."""
    return {"before": (-math.inf, start), "during": (start, end), "after": (end, math.inf)}


def status_of(op: Op) -> int | None:
    """The HTTP status a completion carries, if any."""
    if "status" in op.extra:
        return op.extra["status"]
    if isinstance(op.value, Mapping):
        return op.value.get("status")
    return op.value if isinstance(op.value, int) and not isinstance(op.value, bool) else None


def check(history: History, window: Window | None = None, *, claim: str, fault: str | None = None,
          target: str | None = None, f: str | None = None, allowed: Collection[int] | None = _OK_STATUSES,
          phases: Mapping[str, Window] | None = None, allow_empty: bool = False) -> CheckResult:
    """Report every failed, indeterminate or disallowed-status request inside the window."""
    if window is None and (fault or target):
        window = history.fault_window(fault, target)
    start, end = window or _WHOLE_RUN
    phases = phases or (around(start, end) if window else {"run": _WHOLE_RUN})
    counts = {name: dict.fromkeys(("ok", "fail", "info", "bad_status"), 0) for name in phases}
    violations: list[Violation] = []
    judged = unfinished = 0
    for inv, comp in history.client_ops().pairs():
        if f is not None and inv.f != f:
            continue
        if comp is None:
            unfinished += 1
            continue
        found = _judge(comp, allowed)
        _count(counts, phases, inv.time, comp.type.value, found)
        if start <= comp.time and inv.time <= end:
            judged += 1
            if found is not None:
                violations.append(found)
    if not judged and not allow_empty:
        violations.append(Violation.whole_run("no-requests",
                                              f"no request in window {_show(start, end)}"))
    return make_result(claim, violations, {"window": _show(start, end), "requests": judged,
                                           "unfinished": unfinished, "phases": counts})


def _judge(comp: Op, allowed: Collection[int] | None) -> Violation | None:
    status = status_of(comp)
    error = f", error {comp.error}" if comp.error else ""
    if comp.type is OpType.FAIL:
        return Violation.at("failed", comp, f"{comp.f} failed (status {status}{error})")
    if comp.type is OpType.INFO:
        return Violation.at("indeterminate", comp, f"{comp.f} got no answer{error}")
    if allowed is not None and status is not None and status not in allowed:
        return Violation.at("bad-status", comp, f"{comp.f} answered status {status}")
    return None


def _count(counts: dict[str, dict[str, int]], phases: Mapping[str, Window], invoked: float,
           outcome: str, found: Violation | None) -> None:
    for name, (start, end) in phases.items():
        if start <= invoked < end:
            key = "bad_status" if found is not None and found.kind == "bad-status" else outcome
            counts[name][key] += 1


def _show(start: float, end: float) -> str:
    return "whole run" if (start, end) == _WHOLE_RUN else f"[{start:.3f}, {end:.3f}]"
