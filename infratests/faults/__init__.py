"""What goes wrong: network faults through a Toxiproxy-compatible proxy, and fault plans.

Names load lazily so that ``python -m infratests.faults.toxiproxy`` starts fast
(the client side imports ``requests``).
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "NetworkFaults", "Fault", "ProxyInfo", "ProxyFaultError", "UnknownProxy",
    "FaultStep", "FaultPlan", "FAULT_KINDS", "NETWORK_FAULTS", "PROCESS_FAULTS",
]

_HOME = {
    "NetworkFaults": "network", "Fault": "network", "ProxyInfo": "network",
    "ProxyFaultError": "network", "UnknownProxy": "network",
    "FaultStep": "plan", "FaultPlan": "plan", "FAULT_KINDS": "plan",
    "NETWORK_FAULTS": "plan", "PROCESS_FAULTS": "plan",
}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
