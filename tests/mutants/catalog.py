"""Every mutant of every family, and the README's mutation score table made from them.

``python -m tests.mutants.catalog`` prints the table; ``test_catalog.py``
checks the README carries it, so the table cannot drift from the meta-tests.
"""

from __future__ import annotations

from tests.mutants import coordination_mutants, data_tier_mutants, edge_mutants
from tests.mutants.mutant import Mutant

FAMILIES: dict[str, tuple[Mutant, ...]] = {
    "data tier (C-TX, C-POOL, C-BK)": data_tier_mutants.MUTANTS,
    "coordination (C-LOCK, C-CB, C-HL, C-RD, C-OBS)": coordination_mutants.MUTANTS,
    "edge (C-GS, C-NGX)": edge_mutants.MUTANTS,
}


def all_mutants() -> list[Mutant]:
    return [mutant for mutants in FAMILIES.values() for mutant in mutants]


def markdown_table() -> str:
    """One row per mutant: the claim it breaks, how, and the scenario that catches it."""
    rows = ["| claim | mutant | what is broken | caught by |", "|---|---|---|---|"]
    for mutant in sorted(all_mutants(), key=lambda m: (_claim_key(m.claim), m.name)):
        test = mutant.scenario.split("::")[-1]
        breaks = mutant.breaks.replace("|", "\\|")
        rows.append(f"| {mutant.claim} | `{mutant.name}` | {breaks} | `{test}` |")
    return "\n".join(rows)


def _claim_key(claim: str) -> tuple[str, int]:
    family, _, number = claim.rpartition("-")
    return family, int(number) if number.isdigit() else 0


if __name__ == "__main__":
    print(markdown_table())
