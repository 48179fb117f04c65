"""Every mutant is caught by its scenario, and the README's mutation table is this catalog."""

from __future__ import annotations

import pytest

from tests.mutants.catalog import all_mutants, markdown_table
from tests.mutants.mutant import ROOT, Mutant, assert_caught


@pytest.mark.slow
@pytest.mark.parametrize("mutant", all_mutants(), ids=str)
def test_scenario_catches_mutant(mutant: Mutant) -> None:
    """The scenario fails on the broken variant, naming the mutant's claim."""
    assert_caught(mutant)


def test_readme_carries_the_mutation_table() -> None:
    readme = (ROOT / "README.md").read_text()
    assert markdown_table() in readme, "README's mutation table is stale: python -m tests.mutants.catalog"


def test_mutant_names_are_unique_and_every_scenario_exists() -> None:
    mutants = all_mutants()
    assert len({mutant.name for mutant in mutants}) == len(mutants)
    for mutant in mutants:
        path, _, test = mutant.scenario.partition("::")
        assert f"def {test.split('[')[0]}(" in (ROOT / path).read_text(), mutant.scenario


# Scenarios whose failing variant is not a profile override of a stack the suite starts; where it lives.
ELSEWHERE = {
    "test_internal_ports_are_not_reachable_from_the_public_side":
        "tests/external/test_external.py (an environment whose internal port answers on the public host)",
}


def test_every_scenario_has_a_mutant() -> None:
    """A scenario that cannot fail is a defect: each has a mutant here, or a named failing variant elsewhere."""
    import ast

    covered = {mutant.scenario.split("::")[1].split("[")[0] for mutant in all_mutants()}
    scenarios = {node.name for path in (ROOT / "scenarios").glob("test_*.py")
                 for node in ast.parse(path.read_text()).body
                 if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}
    assert scenarios - covered == set(ELSEWHERE), sorted(scenarios - covered - set(ELSEWHERE))
