"""Fencing checker on literal histories (C-LOCK-4)."""

import pytest

from infratests.checks import assert_holds, fencing
from infratests.errors import CheckFailed
from infratests.history import History, Op, OpType

INV, OK, FAIL, INFO = OpType.INVOKE, OpType.OK, OpType.FAIL, OpType.INFO


def _writes(*rows: tuple[int, OpType, int] | tuple[int, OpType, int, dict]) -> History:
    """(worker, outcome, token[, more value fields]) for job "j", one per second."""
    ops = []
    for t, (worker, outcome, token, *more) in enumerate(rows, start=1):
        value = {"job": "j", "token": token, **(more[0] if more else {})}
        ops += [Op(worker, INV, "write", value, t - 0.5), Op(worker, outcome, "write", value, t)]
    return History.of(ops)


def _kinds(result) -> list[str]:
    return [v.kind for v in result.violations]


def test_stale_writes_rejected_and_counted() -> None:
    result = assert_holds(fencing.check(_writes(
        (1, OK, 1), (1, OK, 1),   # one holder may write several times under its token
        (2, OK, 2), (1, FAIL, 1),  # the paused holder wakes up: rejected
        (3, INFO, 3), (3, OK, 3)), claim="C-LOCK-4"))
    assert result.stats == {"accepted": 4, "rejected": 1, "indeterminate": 1}


def test_stale_write_accepted() -> None:
    result = fencing.check(_writes((1, OK, 1), (2, OK, 2), (1, OK, 1)), claim="C-LOCK-4")
    assert _kinds(result) == ["stale-accepted"]
    assert [op.process for op in result.first.ops] == [2, 1]
    with pytest.raises(CheckFailed, match=r"C-LOCK-4 (.|\n)*token 1 accepted after token 2"):
        assert_holds(result)


def test_token_shared_by_two_holders() -> None:
    assert _kinds(fencing.check(_writes((1, OK, 5), (2, OK, 5)), claim="C-LOCK-4")) == ["duplicate-token"]
    assert fencing.check(_writes((1, OK, 5, {"holder": "w"}), (2, OK, 5, {"holder": "w"})), claim="C-LOCK-4").valid


def test_order_field_from_the_resource_overrides_completion_order() -> None:
    history = _writes((2, OK, 2, {"seq": 2}), (1, OK, 1, {"seq": 1}))
    assert _kinds(fencing.check(history, claim="C-LOCK-4")) == ["stale-accepted"]
    assert fencing.check(history, order="seq", claim="C-LOCK-4").valid


def test_empty_history() -> None:
    assert _kinds(fencing.check(History.of([]), claim="C-LOCK-4")) == ["no-writes"]
    assert fencing.check(History.of([]), allow_empty=True, claim="C-LOCK-4").valid
