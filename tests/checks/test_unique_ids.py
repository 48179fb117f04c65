"""Unique-id checker on literal histories."""

import pytest

from infratests.checks import assert_holds, unique_ids
from infratests.errors import CheckFailed
from infratests.history import History, Op, OpType

INV, OK, FAIL, INFO = OpType.INVOKE, OpType.OK, OpType.FAIL, OpType.INFO


def _generated(*outcomes: tuple[OpType, object]) -> History:
    ops = []
    for t, (outcome, value) in enumerate(outcomes, start=1):
        ops += [Op(t % 2, INV, "generate", None, t - 0.5), Op(t % 2, outcome, "generate", value, t)]
    return History.of(ops)


def test_unique_ids_with_failed_and_indeterminate_generations() -> None:
    result = assert_holds(unique_ids.check(_generated((OK, "a"), (INFO, None), (FAIL, None),
                                                      (OK, "b")), claim="C-OBS-1"))
    assert result.stats == {"ids": 2, "duplicated_ids": 0, "not_ok": 2}


def test_duplicates_name_both_generations() -> None:
    result = unique_ids.check(_generated((OK, "a"), (OK, "b"), (OK, "a"), (OK, "a")),
                              claim="C-OBS-1")
    assert [v.kind for v in result.violations] == ["duplicate-id", "duplicate-id"]
    assert [op.time for op in result.first.ops] == [1.0, 3.0]
    assert result.worst.time == 4.0 and result.worst.severity == 3
    with pytest.raises(CheckFailed, match=r"C-OBS-1 violated(.|\n)*id 'a' returned 3 times"):
        assert_holds(result)


def test_empty_history() -> None:
    assert [v.kind for v in unique_ids.check(History.of([]), claim="C-OBS-1").violations] == ["no-ids"]
    assert unique_ids.check(History.of([]), allow_empty=True, claim="C-OBS-1").valid
