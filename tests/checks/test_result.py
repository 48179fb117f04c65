"""CheckResult, Violation and the failure message a violated claim produces."""

import pytest

from infratests.checks import CheckResult, Violation, assert_holds, format_op, make_result
from infratests.errors import CheckFailed, InfratestsError
from infratests.history import Op, OpType

READ = Op(3, OpType.OK, "read", {"a": 1}, time=12.5, wall=1763786400.25)


def _violation(kind: str, time: float, severity: float = 1.0) -> Violation:
    return Violation(kind, time, 0.0, f"{kind} at {time}", (READ,), severity)


def test_no_violations_is_valid_and_assert_holds_returns_the_result() -> None:
    result = make_result("C-X-1", [], {"reads": 3})
    assert result.valid and result.first is None
    assert assert_holds(result) is result
    assert result.describe() == "C-X-1 holds (reads=3)"


def test_first_worst_last_and_counts() -> None:
    result = make_result("C-X-1", [_violation("b", 2.0, 5), _violation("a", 1.0),
                                   _violation("b", 3.0, 5)])
    assert not result.valid
    assert (result.first.time, result.worst.time, result.last.time) == (1.0, 2.0, 3.0)
    assert result.counts() == {"b": 2, "a": 1}


def test_failure_message_names_claim_kinds_times_and_ops() -> None:
    result = make_result("C-X-1", [Violation.at("wrong-total", READ, "total 9 != 10", severity=1)],
                         {"reads": 1, "totals": [(12.5, 9)]})
    with pytest.raises(CheckFailed) as failed:
        assert_holds(result)
    text = str(failed.value)
    assert text.startswith("C-X-1 violated: 1 violation(s): wrong-total x1")
    assert "first/worst/last: t=12.500 (04:40:00.250Z) wrong-total: total 9 != 10" in text
    assert "ops: p3 ok read {'a': 1} @t=12.500" in text
    assert "reads=1" in text and "totals" not in text  # lists stay in stats
    assert failed.value.subject is result
    assert isinstance(failed.value, InfratestsError) and isinstance(failed.value, AssertionError)


def test_whole_run_violation_has_no_time() -> None:
    text = make_result("C-X-1", [Violation.whole_run("no-reads", "nothing checked")]).describe()
    assert "whole run no-reads: nothing checked" in text


def test_format_op_stays_short_for_huge_values() -> None:
    op = Op("w1", OpType.INFO, "read", list(range(1_000_000)), time=1.0, error="Timeout()")
    text = format_op(op)
    assert len(text) < 120
    assert text.startswith("pw1 info read [0, 1, 2") and "error='Timeout()'" in text


def test_result_is_frozen() -> None:
    result = CheckResult("C-X-1", True)
    with pytest.raises(AttributeError):
        result.valid = False  # type: ignore[misc]


def test_format_op_shows_extra_fields() -> None:
    op = Op(0, OpType.FAIL, "call", None, time=2.0, extra={"reached_dependency": False})
    assert format_op(op) == "p0 fail call reached_dependency=False @t=2.000"
