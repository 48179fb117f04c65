"""Set checker on literal histories (C-BK-1, C-BK-5)."""

import pytest

from infratests.checks import assert_holds, sets
from infratests.errors import CheckFailed
from infratests.history import History, Op, OpType

INV, OK, FAIL, INFO = OpType.INVOKE, OpType.OK, OpType.FAIL, OpType.INFO


def _history(adds: list[tuple[object, OpType, float]], read: list | None) -> History:
    """Serial adds (element, outcome, completion time), then an optional final read at t=100."""
    ops = []
    for element, outcome, t in adds:
        ops += [Op(0, INV, "add", element, t - 0.1), Op(0, outcome, "add", element, t)]
    if read is not None:
        ops += [Op(1, INV, "read", None, 99.0), Op(1, OK, "read", read, 100.0)]
    return History.of(ops)


def _kinds(result) -> list[str]:
    return [v.kind for v in result.violations]


def test_valid_with_indeterminate_and_failed_adds() -> None:
    history = _history([(1, OK, 1.0), (2, INFO, 2.0), (3, INFO, 3.0), (4, FAIL, 4.0), (5, OK, 5.0)],
                       read=[1, 2, 5])
    result = assert_holds(sets.check(history, claim="C-BK-1"))
    assert result.stats["recovered"] == 1  # 2 was indeterminate and made it; 3 did not: fine
    assert (result.stats["acknowledged"], result.stats["indeterminate"], result.stats["failed"]) \
        == (2, 2, 1)


@pytest.mark.parametrize(("read", "kind"), [
    ([1], "lost"),
    ([1, 2, 9], "unexpected"),
    ([1, 2, 3], "failed-but-present"),
])
def test_each_violation_kind(read: list, kind: str) -> None:
    history = _history([(1, OK, 1.0), (2, OK, 2.0), (3, FAIL, 3.0)], read=read)
    assert _kinds(sets.check(history, claim="C-BK-1")) == [kind]


def test_lost_add_is_reported_at_its_acknowledgement() -> None:
    result = sets.check(_history([(1, OK, 1.0), (2, OK, 2.0)], read=[2]), claim="C-BK-5")
    assert result.first.time == 1.0 and [op.time for op in result.first.ops] == [1.0, 100.0]
    with pytest.raises(CheckFailed, match=r"C-BK-5 violated(.|\n)*lost: acknowledged add of 1"):
        assert_holds(result)


def test_acked_before_bounds_the_loss_window() -> None:
    """Kill -9 at t=10 with fsync every second: adds acked after t=9 may be lost."""
    history = _history([(1, OK, 8.0), (2, OK, 9.5), (3, OK, 9.9)], read=[1])
    result = sets.check(history, acked_before=9.0, claim="C-BK-1")
    assert result.valid and result.stats["lost_in_window"] == 2
    assert _kinds(sets.check(history, acked_before=9.6, claim="C-BK-1")) == ["lost"]


def test_absent_after_flags_writes_newer_than_the_snapshot() -> None:
    history = _history([(1, OK, 1.0), (2, OK, 5.0), (3, INFO, 6.0)], read=[1, 2, 3])
    result = sets.check(history, acked_before=2.0, absent_after=4.0, claim="C-BK-1")
    assert _kinds(result) == ["too-new", "too-new"]
    assert "first added at t=4.900, after the snapshot at t=4.000" in result.violations[0].message


def test_never_read_and_empty_history() -> None:
    assert _kinds(sets.check(_history([(1, OK, 1.0)], read=None), claim="C-BK-1")) == ["never-read"]
    assert _kinds(sets.check(History.of([]), claim="C-BK-1")) == ["never-read"]
    assert sets.check(History.of([]), allow_empty=True, claim="C-BK-1").valid
