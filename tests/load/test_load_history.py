"""The history loader's ok/fail/info rule, on literal JSONL rows (no Locust involved)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infratests.errors import ConfigError
from infratests.history import OpType
from infratests.load.history import completion_type, load_history, read_rows, rows_to_history
from infratests.load.stats import stats_from_rows


def _row(user: str, mono: float, status: int, kind: str | None = None, error: str | None = None,
         name: str = "/x", latency_ms: float = 10.0) -> dict[str, object]:
    return {"wall": 1000.0 + mono, "mono": mono, "user": user, "name": name, "method": "GET",
            "status": status, "latency_ms": latency_ms, "length": 2, "error": error, "kind": kind,
            "request_id": f"rid-{user}-{mono}", "pid": 1}


@pytest.mark.parametrize(("row", "expected"), [
    (_row("u", 0, 200), OpType.OK),
    (_row("u", 0, 302), OpType.OK),
    (_row("u", 0, 200, "check", "CatchResponseError('bad body')"), OpType.OK),
    (_row("u", 0, 404, "http", "LocustBadStatusCode(code=404)"), OpType.FAIL),
    (_row("u", 0, 500, "http", "LocustBadStatusCode(code=500)"), OpType.FAIL),
    (_row("u", 0, 0, "transport", "ConnectionRefusedError()"), OpType.INFO),
    (_row("u", 0, 200, "transport", "IncompleteRead()"), OpType.INFO),
])
def test_completion_type_rule(row: dict[str, object], expected: OpType) -> None:
    assert completion_type(row) is expected


def test_indeterminate_statuses_turn_proxy_errors_into_info() -> None:
    row = _row("u", 0, 504, "http", "LocustBadStatusCode(code=504)")
    assert completion_type(row) is OpType.FAIL
    assert completion_type(row, frozenset({502, 504})) is OpType.INFO


def test_rows_become_invoke_completion_pairs_with_extra() -> None:
    rows = [_row("a", 1.0, 200), _row("b", 1.005, 500, "http", "boom"), _row("a", 1.02, 0, "transport", "reset")]
    history = rows_to_history(rows)
    assert len(history) == 6
    pairs = history.pairs()
    assert [(inv.process, done.type if done else None) for inv, done in pairs] == [
        ("a", OpType.OK), ("b", OpType.FAIL), ("a", OpType.INFO)]
    invoke, done = pairs[0]
    assert done is not None and done.time == pytest.approx(invoke.time + 0.010)
    assert done.extra["status"] == 200 and done.extra["request_id"] == "rid-a-1.0"
    assert pairs[1][1] is not None and pairs[1][1].error == "boom"


def test_worker_parts_are_merged_and_a_torn_last_line_is_tolerated(tmp_path: Path) -> None:
    base = tmp_path / "history.jsonl"
    base.with_name("history.jsonl.w11").write_text(json.dumps(_row("w1", 2.0, 200)) + "\n")
    base.with_name("history.jsonl.w12").write_text(
        json.dumps(_row("w2", 1.0, 200)) + "\n" + '{"wall": 1')  # SIGKILL mid-write
    assert [row["user"] for row in read_rows(base)] == ["w2", "w1"]
    assert len(load_history(base)) == 4


def test_corruption_in_the_middle_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    path.write_text("not json\n" + json.dumps(_row("u", 1.0, 200)) + "\n")
    with pytest.raises(ConfigError, match="not a JSON history row"):
        read_rows(path)


def test_stats_from_rows_counts_failures_and_percentiles() -> None:
    rows = [_row("u", i, 200, latency_ms=float(i + 1)) for i in range(99)]
    rows.append(_row("u", 99, 500, "http", "boom", latency_ms=250.0))
    total, endpoints = stats_from_rows(rows)
    assert (total.requests, total.failures) == (100, 1)
    # Locust's rule: the largest value with at most q * N requests below it.
    assert total.p50_ms == 51 and total.p99_ms == 250 and endpoints[0].name == "/x"
