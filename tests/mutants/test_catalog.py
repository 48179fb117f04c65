"""The mutation score table in the README is the catalog the meta-tests run."""

from __future__ import annotations

from tests.mutants.catalog import all_mutants, markdown_table
from tests.mutants.mutant import ROOT


def test_readme_carries_the_mutation_table() -> None:
    readme = (ROOT / "README.md").read_text()
    assert markdown_table() in readme, "README's mutation table is stale: python -m tests.mutants.catalog"


def test_mutant_names_are_unique_and_every_scenario_exists() -> None:
    mutants = all_mutants()
    assert len({mutant.name for mutant in mutants}) == len(mutants)
    for mutant in mutants:
        path, _, test = mutant.scenario.partition("::")
        assert f"def {test.split('[')[0]}(" in (ROOT / path).read_text(), mutant.scenario
