"""``infratests bench checks``: time every checker on large synthetic histories.

Each history has ``n_ops`` operations (invokes and completions, i.e. about
``n_ops / 2`` client operations) shaped like a real run: several interleaved
processes, some ``fail`` and ``info`` completions, a fault window. The budget
is 5 s per checker for 1M operations; building the history is timed apart.
"""

from __future__ import annotations

import gc
import json
import platform
import random
import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

from infratests.checks import bank, breaker, counter, fencing, mutex, sets, unique_ids, windows
from infratests.checks.result import CheckResult
from infratests.history import History, Op, OpType, fault_ops

__all__ = ["run_bench", "BUDGET_SECONDS"]

BUDGET_SECONDS = 5.0
INV, OK, FAIL, INFO = OpType.INVOKE, OpType.OK, OpType.FAIL, OpType.INFO
_PROCESSES = 8
_ACCOUNTS = tuple(f"acct-{i}" for i in range(10))
_Case = tuple[History, Callable[[History], CheckResult]]


def _pairs(n_ops: int, make: Callable[[int], tuple[str, Any, OpType, Any]]) -> Iterator[Op]:
    """Invoke/completion pairs, ``make(i) -> (f, invoke value, outcome, completion value)``
    called once per operation in order; operations overlap two by two."""
    for i in range(0, n_ops // 2, 2):
        made = [make(i), make(i + 1)]
        for j, (f, value, _, _) in enumerate(made, start=i):
            yield Op(j % _PROCESSES, INV, f, value, j * 0.001 + 0.0001 * (j - i))
        for j, (f, _, outcome, result) in enumerate(made, start=i):
            yield Op(j % _PROCESSES, outcome, f, result, j * 0.001 + 0.0009, 1.7e9 + j * 0.001)


def _bank(n_ops: int) -> _Case:
    pool = [_balances(random.Random(seed)) for seed in range(1000)]

    def make(i: int) -> tuple[str, Any, OpType, Any]:
        if i % 2:
            return "transfer", {"from": "acct-1", "to": "acct-2", "amount": 1}, OK, None
        return ("read", None, INFO, None) if i % 97 == 0 else ("read", None, OK, pool[i % 1000])
    return History.of(_pairs(n_ops, make)), lambda h: bank.check(h, total=10_000,
                                                                 accounts=_ACCOUNTS, claim="C-TX-3")


def _balances(rng: random.Random) -> dict[str, int]:
    cuts = sorted(rng.randrange(10_001) for _ in range(len(_ACCOUNTS) - 1))
    return {a: hi - lo for a, lo, hi in zip(_ACCOUNTS, [0, *cuts], [*cuts, 10_000], strict=True)}


def _outcome(i: int) -> OpType:
    return INFO if i % 50 == 0 else FAIL if i % 101 == 0 else OK


def _sets(n_ops: int) -> _Case:
    ops = list(_pairs(n_ops - 2, lambda i: ("add", i, _outcome(i), i)))
    present = [op.value for op in ops if op.type is OK or (op.type is INFO and op.value % 100)]
    ops += [Op(0, INV, "read", None, 1e6), Op(0, OK, "read", present, 1e6 + 1)]
    return History.of(ops), partial(sets.check, claim="C-BK-1")


def _counter(n_ops: int) -> _Case:
    acked = [0]  # acked[k]: ok increments among operations before k

    def make(i: int) -> tuple[str, Any, OpType, Any]:
        # a read sees what was acknowledged before the operation overlapping it
        made = ("read", None, OK, acked[i - 1]) if i % 10 == 9 else ("add", 1, _outcome(i), 1)
        acked.append(acked[-1] + (made[0] == "add" and made[2] is OK))
        return made
    return History.of(_pairs(n_ops, make)), partial(counter.check, claim="C-OBS-2")


def _unique_ids(n_ops: int) -> _Case:
    return History.of(_pairs(n_ops, lambda i: ("generate", None, _outcome(i),
                                               f"req-{i:012x}"))), partial(unique_ids.check, claim="C-OBS-1")


def _mutex(n_ops: int) -> _Case:
    rng = random.Random(7)

    def make(i: int) -> tuple[str, Any, OpType, Any]:
        start = 1.7e9 + (i // 10) * 1.0 + rng.random() * 0.4  # 10 jobs, one slot each per second
        return "section", None, _outcome(i) if i % 50 else INFO, {
            "job": f"job-{i % 10}", "token": i, "start": start, "end": start + 0.5}
    return History.of(_pairs(n_ops, make)), partial(mutex.check, claim="C-LOCK-1")


def _fencing(n_ops: int) -> _Case:
    def make(i: int) -> tuple[str, Any, OpType, Any]:
        stale = i % 20 == 0  # a paused holder with an old token: rejected
        value = {"job": f"job-{i % 10}", "token": i - 100 if stale else i, "holder": i % 3}
        return "write", value, FAIL if stale else OK, value
    return History.of(_pairs(n_ops, make)), partial(fencing.check, claim="C-LOCK-4")


def _breaker(n_ops: int) -> _Case:
    """One serial client, 10 ms per call, through a correct breaker; the dependency fails
    from 50 s to 80 s of every 100 s."""
    threshold, reset = 5, 1.0
    ops, state, fails, opened = [], "closed", 0, 0.0
    for i in range(n_ops // 2):
        t = i * 0.01
        failing = 50.0 <= t % 100 < 80.0
        reached = state == "closed" or t >= opened + reset  # open: the trial after the reset
        if reached:
            fails = fails + 1 if failing else 0
            if failing and (state == "open" or fails >= threshold):
                state, opened, fails = "open", t + 0.005, 0
            elif not failing:
                state = "closed"
        ops += [Op(0, INV, "call", None, t),
                Op(0, FAIL if failing or not reached else OK, "call", None, t + 0.005,
                   extra={"reached_dependency": reached})]
    ops += [op for t in range(0, int(n_ops * 0.005) + 1, 100) for op in fault_ops("down", "dependency", t + 50.0,
                                                                                      t + 80.0)]
    return History.merged(History.of(ops)), lambda h: breaker.check(h, threshold=threshold, reset_timeout=reset,
                                                                     claim="C-CB-1")


def _windows(n_ops: int) -> _Case:
    fault = (n_ops * 0.0002, n_ops * 0.0003)
    history = History.of(_pairs(n_ops, lambda i: ("get", "/api", OK, 200 if i % 30 else 304)))
    return history, lambda h: windows.check(h, fault, claim="C-GS-4")


_CASES: dict[str, Callable[[int], _Case]] = {
    "bank": _bank, "sets": _sets, "counter": _counter, "unique_ids": _unique_ids,
    "mutex": _mutex, "fencing": _fencing, "breaker": _breaker, "windows": _windows}


def _measure(case: Callable[[int], _Case], n_ops: int) -> dict[str, Any]:
    started = time.perf_counter()
    history, checker = case(n_ops)
    built = time.perf_counter() - started
    gc.collect()  # don't bill the checker for the builder's garbage
    started = time.perf_counter()
    result = checker(history)
    checked = time.perf_counter() - started
    return {"ops": len(history), "check_seconds": round(checked, 3),
            "build_seconds": round(built, 3), "valid": result.valid,
            "violations": len(result.violations)}


def run_bench(n_ops: int = 1_000_000) -> dict[str, Any]:
    """Time each checker on an ``n_ops``-operation history; return the figures."""
    report: dict[str, Any] = {"n_ops": n_ops, "budget_seconds": BUDGET_SECONDS,
                              "python": platform.python_version(), "checkers": {}}
    for name, case in _CASES.items():
        report["checkers"][name] = _measure(case, n_ops)
        gc.collect()
    # the budget is per checker for up to 1M operations
    report["within_budget"] = n_ops <= 1_000_000 and all(
        c["check_seconds"] <= BUDGET_SECONDS for c in report["checkers"].values())
    return report


if __name__ == "__main__":  # python -m infratests.checks.bench [n_ops]
    import sys

    print(json.dumps(run_bench(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000), indent=2))
