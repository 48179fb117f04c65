"""A mutant of a gate scenario is in the gate too, when that scenario is collected in the same run:
``pytest -m gate scenarios tests/mutants`` proves the gate and its mutants on one backend."""

from __future__ import annotations

import pytest

from tests.mutants.mutant import Mutant


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    gate = {item.nodeid for item in items if item.get_closest_marker("gate")}
    for item in items:
        callspec = getattr(item, "callspec", None)
        mutant = callspec.params.get("mutant") if callspec else None
        if isinstance(mutant, Mutant) and mutant.scenario in gate:
            item.add_marker(pytest.mark.gate)
