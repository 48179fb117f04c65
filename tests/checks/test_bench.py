"""The benchmark's synthetic histories are valid runs, so every checker accepts them.

No timing is asserted here: ``infratests bench checks`` reports the 1M-op figures.
"""

from infratests.checks.bench import run_bench


def test_bench_reports_every_checker_on_valid_histories() -> None:
    report = run_bench(n_ops=4000)
    assert set(report["checkers"]) == {"bank", "sets", "counter", "unique_ids", "mutex",
                                       "fencing", "breaker", "windows"}
    for name, figures in report["checkers"].items():
        assert (name, figures["valid"], figures["violations"]) == (name, True, 0)
        assert figures["ops"] >= 4000 - 2
