"""No scenario applies a fault behind the history's back: every network and process fault goes through
the nemesis (the ``faults`` fixture, or ``Nemesis(private_stack, recorder)``), which records it."""

from __future__ import annotations

import ast

from infratests.resources import scenarios_dir

# Service and fault-proxy calls that are faults; only a Nemesis may make them.
_FAULT_CALLS = {"kill", "pause", "resume", "restart", "terminate", "heal_all", "fault", "toxic"}
_NEMESIS_NAMES = {"nemesis", "faults"}


def _receiver(call: ast.Call) -> str:
    """The name a method is called on: ``nemesis`` for ``nemesis.kill(...)``, ``Nemesis`` for
    ``Nemesis(s, r).kill(...)``, the attribute for ``stack.faults.down(...)``."""
    value = call.func.value if isinstance(call.func, ast.Attribute) else call.func
    if isinstance(value, ast.Call):
        value = value.func
    if isinstance(value, ast.Attribute):
        return value.attr
    return value.id if isinstance(value, ast.Name) else ""


def test_every_fault_in_a_scenario_goes_through_the_nemesis() -> None:
    found = []
    for path in sorted(scenarios_dir().glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            where = f"{path.name}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Attribute) and node.attr == "faults" and not (
                    isinstance(node.value, ast.Name) and node.value.id in ("pytest",)):
                found.append(f"{where}: .faults (the proxy's API, unrecorded)")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                method, receiver = node.func.attr, _receiver(node)
                if method in _FAULT_CALLS and receiver not in _NEMESIS_NAMES | {"Nemesis"}:
                    found.append(f"{where}: {receiver}.{method}()")
                if receiver == "os" and method in ("kill", "killpg"):
                    found.append(f"{where}: os.{method}()")
            if isinstance(node, ast.Constant) and node.value == "/control":
                found.append(f"{where}: the dependency's /control (use Nemesis.dependency_failing)")
    assert not found, "faults applied outside the nemesis: " + "; ".join(found)
