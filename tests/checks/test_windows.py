"""Zero-failure window checker on literal histories (C-GS-4, C-NGX-6)."""

import math

import pytest

from infratests.checks import assert_holds, windows
from infratests.errors import CheckFailed
from infratests.history import History, Op, OpType

INV, OK, FAIL, INFO = OpType.INVOKE, OpType.OK, OpType.FAIL, OpType.INFO
RESTART = (10.0, 20.0)  # the rolling restart


def _requests(*rows: tuple[float, float, OpType, int | None]) -> History:
    """(start, end, outcome, status): one client process per request."""
    ops = []
    for process, (start, end, outcome, status) in enumerate(rows):
        extra = {} if status is None else {"status": status}
        ops += [Op(process, INV, "get", "/api/items", start),
                Op(process, outcome, "get", "/api/items", end, error=None if outcome is OK
                   else "ConnectError()", extra=extra)]
    return History.of(sorted(ops, key=lambda op: op.time))


def _kinds(result) -> list[str]:
    return [v.kind for v in result.violations]


def test_failures_outside_the_window_do_not_count_but_are_summarised() -> None:
    history = _requests((1, 2, FAIL, 502), (11, 12, OK, 200), (15, 16, OK, 301),
                        (25, 26, INFO, None))
    result = assert_holds(windows.check(history, RESTART, claim="C-GS-4"))
    assert result.stats["requests"] == 2
    assert result.stats["phases"] == {
        "before": {"ok": 0, "fail": 1, "info": 0, "bad_status": 0},
        "during": {"ok": 2, "fail": 0, "info": 0, "bad_status": 0},
        "after": {"ok": 0, "fail": 0, "info": 1, "bad_status": 0}}


def test_every_failure_inside_the_window_is_reported() -> None:
    history = _requests((9.5, 10.5, FAIL, 502),  # spans the window start: counted
                        (12, 13, INFO, None), (14, 15, OK, 503), (16, 17, OK, 200))
    result = windows.check(history, RESTART, claim="C-GS-4")
    assert _kinds(result) == ["failed", "indeterminate", "bad-status"]
    with pytest.raises(CheckFailed) as failed:
        assert_holds(result)
    text = str(failed.value)
    assert "C-GS-4 violated: 3 violation(s): failed x1, indeterminate x1, bad-status x1" in text
    assert "get failed (status 502, error ConnectError())" in text
    assert "get answered status 503" in text


def test_allowed_statuses_and_whole_run() -> None:
    history = _requests((1, 2, OK, 503), (30, 31, OK, 200))
    assert _kinds(windows.check(history, claim="C-GS-4")) == ["bad-status"]
    assert windows.check(history, allowed={200, 503}, claim="C-HL-2").valid
    assert windows.check(history, allowed=None, claim="C-GS-4").stats["phases"]["run"]["ok"] == 2


def test_status_may_be_in_the_value() -> None:
    assert windows.status_of(Op(0, OK, "get", {"status": 429})) == 429
    assert windows.status_of(Op(0, OK, "get", 204)) == 204
    assert windows.status_of(Op(0, OK, "get", True)) is None


def test_custom_phases_and_unfinished_requests() -> None:
    history = History.of([*_requests((1, 2, OK, 200)).ops, Op(9, INV, "get", "/", 3.0)])
    result = windows.check(history, phases={"early": (0.0, 2.5), "late": (2.5, math.inf)}, claim="C-GS-4")
    assert result.valid and result.stats["unfinished"] == 1
    assert result.stats["phases"]["early"]["ok"] == 1


def test_empty_window() -> None:
    assert _kinds(windows.check(History.of([]), RESTART, claim="C-GS-4")) == ["no-requests"]
    assert windows.check(_requests((1, 2, OK, 200)), RESTART, allow_empty=True, claim="C-GS-4").valid
