"""Where the suite's own files are, in a source checkout and in an installed wheel alike.

The repository keeps ``scenarios/``, ``locustfiles/`` and ``docs/`` at its top
level; the package maps them to ``infratests.scenarios``,
``infratests.locustfiles`` and ``infratests.docs`` (``pyproject.toml``), so a
wheel carries them and an editable install points at the checkout. They are
found through the import system without being imported: importing a
locustfile would monkey-patch this process with gevent.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from infratests.errors import InfratestsError

__all__ = ["docs_dir", "gate_ini", "locustfiles_dir", "scenarios_dir"]


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(f"infratests.{name}")
    locations = list(spec.submodule_search_locations or ()) if spec else []
    if not locations:
        raise InfratestsError(f"infratests.{name} is not installed: reinstall the infratests package "
                              "(pip install infratests, or pip install -e . in a clone)", name)
    return Path(locations[0])


def scenarios_dir() -> Path:
    """The scenario files (``scenarios/`` in a checkout)."""
    return _package_dir("scenarios")


def locustfiles_dir() -> Path:
    """The built-in locustfiles (``locustfiles/`` in a checkout)."""
    return _package_dir("locustfiles")


def docs_dir() -> Path:
    """The documentation: the claim catalog, the app contract, templates, writing scenarios."""
    return _package_dir("docs")


def gate_ini() -> Path:
    """The pytest settings the gate runs the scenarios with, whatever folder it runs in."""
    return Path(__file__).with_name("gate.ini")
