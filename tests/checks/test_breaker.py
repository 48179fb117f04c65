"""Circuit-breaker checker on literal histories (C-CB-1..3): threshold 3, reset timeout 10 s."""

import pytest

from infratests.checks import CheckResult, assert_holds, breaker
from infratests.errors import CheckFailed
from infratests.history import History, Op, OpType, fault_ops

INV, OK, FAIL, INFO = OpType.INVOKE, OpType.OK, OpType.FAIL, OpType.INFO
R, X = True, False  # reached the dependency / rejected fast by the breaker
FAULT = (3.0, 20.0)


def _call(process: int, start: float, end: float, outcome: OpType, reached: bool) -> list[Op]:
    return [Op(process, INV, "call", None, start),
            Op(process, outcome, "call", None, end, extra={"reached_dependency": reached})]


def _serial(*rows: tuple[float, OpType, bool]) -> list[Op]:
    """One client, calls of 0.1 s: (start, outcome, reached)."""
    return [op for start, outcome, reached in rows
            for op in _call(0, start, start + 0.1, outcome, reached)]


def _check(ops: list[Op], **options: object) -> CheckResult:
    ops = sorted(ops, key=lambda op: op.time)
    return breaker.check(History.merged(History.of(ops), History.of(fault_ops("down", "dependency", *FAULT))),
                         threshold=3, reset_timeout=10.0,
                         **{"claim": "C-CB-1", **options})  # type: ignore[arg-type]


def _kinds(result) -> list[str]:
    return [v.kind for v in result.violations]


# three failures (a timeout counts): opens when the third returns, at 5.1
OPENED = [(1.0, OK, R), (2.0, OK, R), (3.0, FAIL, R), (4.0, INFO, R), (5.0, FAIL, R)]


def test_open_trial_reopen_trial_close() -> None:
    result = assert_holds(_check(_serial(
        *OPENED, (6.0, FAIL, X), (10.0, FAIL, X), (14.9, FAIL, X),
        (15.2, FAIL, R),  # trial fails: re-open at 15.3
        (16.0, FAIL, X), (25.5, OK, R),  # trial succeeds: closed
        (26.0, OK, R), (27.0, OK, R))))
    assert [state for _, state in result.stats["transitions"]] == \
        ["open", "half-open", "open", "half-open", "closed"]
    assert result.stats["faults"] == [{"start": 3.0, "end": 20.0, "reached": 4, "rejected": 4,
                                       "reached_before_open": 3, "open_after": 3.0}]


def test_not_opened_after_threshold_failures() -> None:
    assert _kinds(_check(_serial(*OPENED, (6.0, FAIL, R)))) == ["not-opened"]


def test_call_reaching_the_dependency_while_open() -> None:
    result = _check(_serial(*OPENED, (6.0, FAIL, X), (7.0, FAIL, R)))
    assert _kinds(result) == ["reached-while-open"]
    with pytest.raises(CheckFailed, match=r"C-CB-1 violated(.|\n)*\(C-CB-2\) reached the "):
        assert_holds(result)


def test_rejected_before_threshold_or_after_a_successful_trial() -> None:
    assert _kinds(_check(_serial((3.0, FAIL, R), (4.0, FAIL, X)))) == ["rejected-while-closed"]
    closed_again = _serial(*OPENED, (6.0, FAIL, X), (15.2, OK, R), (16.0, FAIL, X))
    assert _kinds(_check(closed_again)) == ["rejected-while-closed"]


def test_no_trial_after_the_reset_timeout_unless_within_tolerance() -> None:
    late = _serial(*OPENED, (6.0, FAIL, X), (15.2, FAIL, X))  # due at 5.1 + 10
    assert _kinds(_check(late)) == ["no-trial"]
    assert _check(late, tolerance=0.5).valid


def test_second_call_during_the_trial() -> None:
    trial, second = _call(0, 15.2, 16.0, OK, R), _call(1, 15.5, 15.6, OK, R)
    ops = _serial(*OPENED, (6.0, FAIL, X)) + trial + second
    assert _kinds(_check(ops)) == ["extra-trial"]


def test_calls_in_flight_when_the_breaker_changes_are_judged_leniently() -> None:
    ops = _serial((3.0, FAIL, R), (4.0, FAIL, R), (4.6, FAIL, X)) + _call(1, 4.5, 5.2, FAIL, R) \
        + _call(2, 5.0, 5.5, FAIL, R)  # started before the third failure came back
    assert _check(ops).valid


def test_reported_state_stands_in_for_the_reached_flag() -> None:
    ops = [Op(0, INV, "call", None, float(t)) if i == 0 else
           Op(0, FAIL, "call", None, t + 0.1, extra={"state": state})
           for t, state in ((3, "closed"), (4, "closed"), (5, "closed"), (6, "open"))
           for i in (0, 1)]
    result = _check(ops)
    assert result.valid and (result.stats["reached"], result.stats["rejected"]) == (3, 1)


def test_empty_history() -> None:
    assert _kinds(_check([])) == ["no-calls"]
    assert _check([], allow_empty=True).valid
