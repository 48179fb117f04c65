"""Private stacks for scenarios whose profile the command line may still override.

``stack_factory(extra)`` lets ``extra`` beat ``--infratests-set``; a scenario's
defaults (short timeouts, one replica) must not hide a mutant's override of the
same key, so :func:`scenario_overrides` drops the keys the command line sets.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["scenario_overrides"]


def scenario_overrides(config: Any, defaults: Mapping[str, str]) -> dict[str, str]:
    """``defaults`` minus every key given with ``--infratests-set`` (the command line wins)."""
    given = {pair.partition("=")[0].strip() for pair in config.getoption("infratests_set") or ()}
    return {key: value for key, value in defaults.items() if key not in given}
