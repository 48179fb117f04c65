"""Fencing checker: a stale lock holder's writes are rejected (C-LOCK-4).

Writes to the fenced resource are ops with ``f="write"`` and value
``{"job": ..., "token": int, "holder"?: ..., order?: ...}``: ``ok`` means the
resource accepted the write, ``fail`` that it rejected it as stale. Accepted
writes are taken in the order the resource accepted them: the value field
named by ``order`` (a sequence or commit timestamp from the resource) if given,
else the order of their completions in the history.

- ``stale-accepted``: a write accepted with a token lower than one already
  accepted for the job (severity = how much lower);
- ``duplicate-token``: a token accepted from two holders (``holder``, default
  the op's process): tokens must be unique per grant;
- ``no-token``: a write accepted without a token (nothing could fence it);
- ``no-writes`` unless ``allow_empty``.

Rejected (``fail``) writes are counted in ``stats["rejected"]``; ``info``
writes may or may not have been accepted and are only counted.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from typing import Any

from infratests.checks.result import CheckResult, Violation, make_result
from infratests.history import History, Op, OpType

__all__ = ["check"]


def check(history: History, *, claim: str, f: str = "write",
          order: str | None = None, allow_empty: bool = False) -> CheckResult:
    """Check accepted tokens never go down and are never shared between holders."""
    accepted: list[tuple[Any, Op]] = []
    counts = {OpType.FAIL: 0, OpType.INFO: 0}
    for op in history.ops:
        if op.f != f or op.type is OpType.INVOKE:
            continue
        if op.type is OpType.OK:
            key = op.value[order] if order is not None else len(accepted)
            accepted.append((key, op))
        else:
            counts[op.type] += 1
    if order is not None:
        accepted.sort(key=lambda pair: pair[0])
    violations = _scan(op for _, op in accepted)
    if not accepted and not allow_empty:
        violations.append(Violation.whole_run("no-writes", f"no ok {f!r}: nothing was checked"))
    return make_result(claim, violations, {"accepted": len(accepted),
                                           "rejected": counts[OpType.FAIL],
                                           "indeterminate": counts[OpType.INFO]})


def _scan(accepted: Iterable[Op]) -> list[Violation]:
    highest: dict[Hashable, Op] = {}  # per job, the accepted write with the highest token
    found: list[Violation] = []
    for op in accepted:
        value: Mapping[str, Any] = op.value
        if value.get("token") is None:
            found.append(Violation.at("no-token", op, f"job {value.get('job')!r}: a write by "
                                      f"{_holder(op)!r} was accepted without a fencing token"))
            continue
        top = highest.get(value.get("job"))
        if top is None or value["token"] > top.value["token"]:
            highest[value.get("job")] = op
        elif value["token"] < top.value["token"]:
            found.append(Violation.at(
                "stale-accepted", op, f"job {value.get('job')!r}: token {value['token']} accepted "
                f"after token {top.value['token']}", (top, op),
                severity=top.value["token"] - value["token"]))
        elif _holder(op) != _holder(top):
            found.append(Violation.at(
                "duplicate-token", op, f"job {value.get('job')!r}: token {value['token']} "
                f"accepted from holders {_holder(top)!r} and {_holder(op)!r}", (top, op)))
    return found


def _holder(op: Op) -> Hashable:
    return op.value.get("holder", op.process)
