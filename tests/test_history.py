"""The recorder: what clients and the nemesis write, and what scenarios count while they wait."""

from __future__ import annotations

import pytest

from infratests.history import OpType, Recorder


def test_count_is_the_ops_of_a_function_of_a_type() -> None:
    recorder = Recorder()
    for value in (1, 2):
        with recorder.op(0, "add", value):
            pass
    with pytest.raises(RuntimeError), recorder.op(1, "add", 3):
        raise RuntimeError("cut")
    with recorder.op(0, "read"):
        pass
    assert recorder.count("add", OpType.OK) == 2
    assert recorder.count("add", OpType.INFO) == 1
    assert recorder.count("add") == 6  # three invokes, three completions
    assert recorder.count("transfer") == 0
