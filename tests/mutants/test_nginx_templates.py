"""The broken nginx templates stay copies of the built-in one with exactly their break."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from tests.mutants.edge_mutants import MUTANTS, NGINX_MUTANTS
from tests.mutants.mutant import ROOT

BUILTIN_NGINX = ROOT / "infratests" / "stack" / "templates" / "nginx.conf.j2"


@pytest.mark.parametrize("template", sorted(NGINX_MUTANTS.glob("*.conf.j2")), ids=lambda p: p.stem)
def test_nginx_mutant_is_the_builtin_with_one_change(template: Path) -> None:
    """A broken template differs from the built-in only in its break (guards against drift)."""
    changed = [line for line in difflib.unified_diff(BUILTIN_NGINX.read_text().splitlines(),
                                                     template.read_text().splitlines(), n=0, lineterm="")
               if line[:1] in "+-" and not line.startswith(("+++", "---", "+{# MUTANT"))]
    assert 0 < len(changed) <= 6, f"{template.name} drifted from the built-in template:\n" + "\n".join(changed)
    assert any(template.stem in mutant.overrides.get("nginx.template", "") for mutant in MUTANTS), (
        f"{template.name} is not used by any mutant")
