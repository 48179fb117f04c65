"""Scenarios judge any app through the contract: they never reach into the reference app."""

from __future__ import annotations

import ast
import re

from infratests.config import CAPABILITIES
from infratests.resources import scenarios_dir


def test_no_scenario_names_the_reference_apps_settings_tables_or_modules() -> None:
    found = [(path.name, number, line.strip()) for path in sorted(scenarios_dir().glob("*.py"))
             for number, line in enumerate(path.read_text().splitlines(), 1)
             if re.search(r"REFAPP_|refapp", line, re.IGNORECASE)]
    assert not found, f"scenarios that lean on the reference app: {found}"


def test_every_capability_a_scenario_needs_exists() -> None:
    needed = set()
    for path in scenarios_dir().glob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "needs":
                needed |= {arg.value for arg in node.args if isinstance(arg, ast.Constant)}
    assert needed and needed <= set(CAPABILITIES), sorted(needed - set(CAPABILITIES))
