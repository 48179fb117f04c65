"""Bank checker on literal histories (C-TX-3)."""

import pytest

from infratests.checks import assert_holds, bank
from infratests.errors import CheckFailed
from infratests.history import History, Op, OpType

INV, OK, FAIL, INFO = OpType.INVOKE, OpType.OK, OpType.FAIL, OpType.INFO
ACCOUNTS = ("a", "b")


def _reads(*balances: dict) -> History:
    """One ok read per mapping, at t = 1, 2, 3..."""
    ops = []
    for t, value in enumerate(balances, start=1):
        ops += [Op(0, INV, "read", None, t - 0.5), Op(0, OK, "read", value, float(t))]
    return History.of(ops)


def test_valid_history_with_transfers_failed_and_info_reads() -> None:
    history = History.of([
        Op(0, INV, "read", None, 0.0), Op(0, OK, "read", {"a": 50, "b": 50}, 0.1),
        Op(1, INV, "transfer", {"from": "a", "to": "b", "amount": 10}, 0.2),
        Op(2, INV, "read", None, 0.3),
        Op(1, OK, "transfer", {"from": "a", "to": "b", "amount": 10}, 0.4),
        Op(2, INFO, "read", None, 0.5, error="ReadTimeout()"),
        Op(0, INV, "read", None, 0.6), Op(0, FAIL, "read", None, 0.7, error="SerializationFailure"),
        Op(0, INV, "read", None, 0.8), Op(0, OK, "read", {"a": 40, "b": 60}, 0.9),
    ])
    result = assert_holds(bank.check(history, total=100, accounts=ACCOUNTS, claim="C-TX-3"))
    assert result.stats["totals"] == [(0.1, 100), (0.9, 100)]
    stats = result.stats
    assert (stats["reads_ok"], stats["reads_fail"], stats["reads_info"]) == (2, 1, 1)


@pytest.mark.parametrize(("balances", "kind"), [
    ({"a": 50, "b": 49}, "wrong-total"),
    ({"a": 110, "b": -10}, "negative-balance"),
    ({"a": 50, "b": 50, "c": 0}, "unexpected-account"),
    ({"a": 100}, "missing-account"),
    ([50, 50], "malformed-read"),
])
def test_each_violation_kind(balances: object, kind: str) -> None:
    result = bank.check(_reads({"a": 50, "b": 50}, balances), total=100, accounts=ACCOUNTS, claim="C-TX-3")
    assert [v.kind for v in result.violations] == [kind]
    assert result.violations[0].time == 2.0


def test_negative_balances_can_be_allowed() -> None:
    assert bank.check(_reads({"a": 110, "b": -10}), total=100, accounts=ACCOUNTS,
                      allow_negative=True, claim="C-TX-3").valid


def test_first_worst_last_and_total_over_time() -> None:
    result = bank.check(_reads({"a": 50, "b": 49}, {"a": 50, "b": 50}, {"a": 90, "b": 50},
                               {"a": 50, "b": 51}), total=100, accounts=ACCOUNTS, claim="C-TX-3")
    assert (result.first.time, result.worst.time, result.last.time) == (1.0, 3.0, 4.0)
    assert result.stats["totals"] == [(1.0, 99), (2.0, 100), (3.0, 140), (4.0, 101)]
    assert (result.stats["min_total"], result.stats["max_total"]) == (99, 140)


def test_empty_history_checks_nothing_and_says_so() -> None:
    assert [v.kind for v in bank.check(History.of([]), total=100, accounts=ACCOUNTS, claim="C-TX-3").violations] \
        == ["no-reads"]
    assert bank.check(History.of([]), total=100, accounts=ACCOUNTS, allow_empty=True, claim="C-TX-3").valid


def test_failure_message_names_the_claim_and_the_read() -> None:
    with pytest.raises(CheckFailed) as failed:
        assert_holds(bank.check(_reads({"a": 50, "b": 49}), total=100, accounts=ACCOUNTS,
                                claim="C-BK-1"))
    text = str(failed.value)
    assert "C-BK-1 violated" in text and "wrong-total: total 99 != expected 100" in text
    assert "p0 ok read {'a': 50, 'b': 49} @t=1.000" in text
