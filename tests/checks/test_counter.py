"""Counter checker on literal histories (C-OBS-2)."""

import pytest

from infratests.checks import assert_holds, counter
from infratests.errors import CheckFailed
from infratests.history import History, Op, OpType

INV, OK, FAIL, INFO = OpType.INVOKE, OpType.OK, OpType.FAIL, OpType.INFO


def _kinds(result) -> list[str]:
    return [v.kind for v in result.violations]


def test_concurrent_reads_may_see_in_flight_and_indeterminate_increments() -> None:
    history = History.of([
        Op(0, INV, "add", 1, 1.0), Op(0, OK, "add", 1, 1.1),     # certainly counted
        Op(1, INV, "add", 5, 2.0), Op(1, INFO, "add", 5, 2.5),   # maybe counted
        Op(2, INV, "add", 7, 3.0), Op(2, FAIL, "add", 7, 3.1),   # certainly not
        Op(0, INV, "add", 2, 4.0),
        Op(3, INV, "read", None, 4.1), Op(3, OK, "read", 8, 4.2),  # 1 + 5 + 2 in flight
        Op(0, OK, "add", 2, 4.3),
        Op(3, INV, "read", None, 5.0), Op(3, OK, "read", 3, 5.1),  # 1 + 2, the 5 never landed
        Op(3, INV, "read", None, 6.0), Op(3, INFO, "read", None, 9.0),
    ])
    result = assert_holds(counter.check(history, claim="C-OBS-2"))
    assert (result.stats["final_lower"], result.stats["final_upper"]) == (3, 8)
    assert (result.stats["reads_ok"], result.stats["reads_other"]) == (2, 1)


def test_read_below_lower_bound() -> None:
    history = History.of([
        Op(0, INV, "add", 2, 1.0), Op(0, OK, "add", 2, 1.1),
        Op(1, INV, "read", None, 2.0), Op(1, OK, "read", 1, 2.1),
    ])
    result = counter.check(history, claim="C-OBS-2")
    assert _kinds(result) == ["read-below-bound"] and result.worst.severity == 1
    with pytest.raises(CheckFailed, match=r"C-OBS-2 violated(.|\n)*read 1 < lower bound 2"):
        assert_holds(result)


def test_failed_increment_does_not_raise_the_upper_bound() -> None:
    history = History.of([
        Op(0, INV, "add", 7, 1.0), Op(0, FAIL, "add", 7, 1.1),
        Op(1, INV, "read", None, 2.0), Op(1, OK, "read", 7, 2.1),
    ])
    assert _kinds(counter.check(history, claim="C-OBS-2")) == ["read-above-bound"]


def test_increment_invoked_after_the_read_completed_is_not_visible() -> None:
    history = History.of([
        Op(1, INV, "read", None, 1.0), Op(1, OK, "read", 4, 1.1),
        Op(0, INV, "add", 4, 2.0), Op(0, OK, "add", 4, 2.1),
    ])
    assert _kinds(counter.check(history, initial=0, claim="C-OBS-2")) == ["read-above-bound"]
    assert counter.check(history, initial=4, claim="C-OBS-2").valid


def test_empty_history() -> None:
    assert _kinds(counter.check(History.of([]), claim="C-OBS-2")) == ["no-reads"]
    assert counter.check(History.of([]), allow_empty=True, claim="C-OBS-2").valid
