"""Checkers: pure functions over recorded histories (what must hold; the histories themselves are
:mod:`infratests.history`).

Each checker module exposes ``check(history, ..., claim=...) -> CheckResult``;
:func:`assert_holds` turns a violated claim into a readable
:class:`~infratests.errors.CheckFailed`::

    from infratests.checks import assert_holds, bank
    assert_holds(bank.check(history, total=1000, accounts=ACCOUNTS, claim="C-TX-3"))
"""

from infratests.checks import bank, breaker, counter, fencing, mutex, sets, unique_ids, windows
from infratests.checks.result import CheckResult, Violation, assert_holds, format_op, make_result

__all__ = [
    "CheckResult", "Violation", "assert_holds", "format_op", "make_result",
    "bank", "breaker", "counter", "fencing", "mutex", "sets", "unique_ids", "windows",
]
