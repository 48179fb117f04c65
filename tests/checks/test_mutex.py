"""Mutex checker on literal histories (C-LOCK-1)."""

import pytest

from infratests.checks import assert_holds, mutex
from infratests.errors import CheckFailed
from infratests.history import History, Op, OpType

INV, OK, FAIL, INFO = OpType.INVOKE, OpType.OK, OpType.FAIL, OpType.INFO
T0 = 1_763_786_400.0  # sections carry Postgres clock_timestamp() epoch seconds


def _sections(*rows: tuple[int, OpType, str, int, float | None, float | None]) -> History:
    """(worker, outcome, job, token, start, end) with start/end relative to T0."""
    ops = []
    for worker, outcome, job, token, start, end in rows:
        value = {"job": job, "token": token, "start": None if start is None else T0 + start,
                 "end": None if end is None else T0 + end}
        t = next(x for x in (end, start, 0.0) if x is not None)  # completion time
        ops += [Op(worker, INV, "section", {"job": job}, t - 1),
                Op(worker, outcome, "section", value, t)]
    return History.of(ops)


def _kinds(result) -> list[str]:
    return [v.kind for v in result.violations]


def test_back_to_back_sections_and_other_jobs_do_not_conflict() -> None:
    result = assert_holds(mutex.check(_sections(
        (1, OK, "nightly", 1, 0.0, 1.0), (2, OK, "nightly", 2, 1.0, 2.0),  # touching is fine
        (3, OK, "report", 1, 0.5, 1.5), (2, FAIL, "nightly", 3, None, None)), claim="C-LOCK-1"))
    assert (result.stats["jobs"], result.stats["sections_ok"]) == (2, 3)


def test_overlap_names_both_sections_and_how_long() -> None:
    result = mutex.check(_sections((1, OK, "nightly", 1, 0.0, 1.0),
                                   (2, OK, "nightly", 2, 0.75, 2.0)), claim="C-LOCK-1")
    assert _kinds(result) == ["overlap"] and result.worst.severity == pytest.approx(0.25)
    with pytest.raises(CheckFailed) as failed:
        assert_holds(result)
    text = str(failed.value)
    assert "C-LOCK-1 violated" in text and "job 'nightly': token 2" in text
    assert "overlaps token 1" in text and "by 0.250000s" in text


def test_a_long_section_overlapping_two_later_ones_is_found_twice() -> None:
    result = mutex.check(_sections((1, OK, "j", 1, 0.0, 10.0), (2, OK, "j", 2, 1.0, 2.0),
                                   (3, OK, "j", 3, 3.0, 4.0)), claim="C-LOCK-1")
    assert _kinds(result) == ["overlap", "overlap"]
    assert all(v.ops[0].process == 1 for v in result.violations)


def test_info_sections_are_possible_overlaps_counted_only_on_request() -> None:
    history = _sections((1, INFO, "j", 1, 0.0, 5.0), (2, OK, "j", 2, 1.0, 2.0),
                        (3, INFO, "j", 3, 7.0, None))  # a paused worker: start but no end
    result = mutex.check(history, claim="C-LOCK-1")
    assert result.valid and result.stats["possible_overlaps"] == 1
    assert result.stats["possible"][0].kind == "possible-overlap"
    assert (result.stats["sections_info"], result.stats["info_untimed"]) == (2, 1)
    assert _kinds(mutex.check(history, count_info=True, claim="C-LOCK-1")) == ["possible-overlap"]


def test_malformed_and_empty() -> None:
    assert _kinds(mutex.check(_sections((1, OK, "j", 1, 2.0, 1.0)), claim="C-LOCK-1")) == ["malformed-section"]
    assert _kinds(mutex.check(History.of([]), claim="C-LOCK-1")) == ["no-sections"]
    assert mutex.check(History.of([]), allow_empty=True, claim="C-LOCK-1").valid
