"""Fault plans are data (Jepsen's generator): computed apart from the code that applies them.

A :class:`FaultPlan` is a seed and a tuple of :class:`FaultStep`; each step
says *when* (``at_s`` seconds after the plan starts), *what* (``fault``: a
:class:`~infratests.faults.network.NetworkFaults` method name, with its
keyword ``params``), *where* (``target``: a proxy name) and *how long*
(``duration_s``). ``FaultPlan.random(seed, ...)`` is reproducible: the same
arguments give the same plan, so a failing run can be replayed from its JSON.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ..errors import ConfigError

__all__ = ["FaultStep", "FaultPlan", "FAULT_KINDS", "NETWORK_FAULTS", "PROCESS_FAULTS", "DEFAULT_PARAMS"]

#: Network faults: NetworkFaults method names; the target is a proxy name.
NETWORK_FAULTS = ("latency", "bandwidth", "timeout", "slow_close", "reset_peer", "slicer", "cut_after_bytes", "down")
#: Process faults (the nemesis applies them through the Service API); the target is a service name.
PROCESS_FAULTS = ("crash", "pause", "terminate", "restart")
FAULT_KINDS = NETWORK_FAULTS + PROCESS_FAULTS

ParamMaker = Callable[[random.Random], dict[str, Any]]

#: Parameter generators per fault kind (values a stack should survive or expose).
DEFAULT_PARAMS: Mapping[str, ParamMaker] = MappingProxyType({
    "latency": lambda r: {"ms": r.choice([50, 100, 200, 500]), "jitter": r.choice([0, 10, 50])},
    "bandwidth": lambda r: {"kbps": r.choice([1, 10, 100, 1000])},
    "timeout": lambda r: {"ms": r.choice([0, 500, 2000])},
    "slow_close": lambda r: {"ms": r.choice([100, 500, 2000])},
    "reset_peer": lambda r: {"after_ms": r.choice([0, 100, 1000])},
    "slicer": lambda r: {"average_size": r.choice([1, 16, 64]), "size_variation": 0, "delay_us": r.choice([0, 100])},
    "cut_after_bytes": lambda r: {"n": r.choice([0, 64, 1024])},
    "down": lambda r: {},
    **{kind: (lambda r: {}) for kind in PROCESS_FAULTS},
})


@dataclass(frozen=True)
class FaultStep:
    """Apply ``fault`` with ``params`` to proxy ``target`` at ``at_s`` for ``duration_s`` seconds."""

    at_s: float
    fault: str
    target: str
    params: Mapping[str, Any] = field(default_factory=dict)
    duration_s: float = 1.0

    def __post_init__(self) -> None:
        if self.fault not in FAULT_KINDS:
            raise ConfigError(f"fault {self.fault!r} unknown; use one of {FAULT_KINDS}", subject="fault")
        if self.at_s < 0 or self.duration_s <= 0:
            raise ConfigError(f"{self}: at_s must be >= 0 and duration_s > 0", subject="at_s")
        if not self.target:
            raise ConfigError("a fault step needs a target proxy name", subject="target")
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    @property
    def end_s(self) -> float:
        return self.at_s + self.duration_s

    def to_dict(self) -> dict[str, Any]:
        return {"at_s": self.at_s, "fault": self.fault, "target": self.target,
                "params": dict(self.params), "duration_s": self.duration_s}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FaultStep:
        try:
            return cls(float(data["at_s"]), data["fault"], data["target"],
                       dict(data.get("params", {})), float(data["duration_s"]))
        except KeyError as exc:
            raise ConfigError(f"fault step {dict(data)} lacks {exc.args[0]!r}", subject=exc.args[0]) from None

    def __hash__(self) -> int:
        return hash((self.at_s, self.fault, self.target, tuple(sorted(self.params.items())), self.duration_s))


@dataclass(frozen=True)
class FaultPlan:
    """Steps ordered by ``at_s``; ``seed`` is the one that generated them (None if hand-written)."""

    steps: tuple[FaultStep, ...]
    seed: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", tuple(sorted(self.steps, key=lambda s: s.at_s)))

    @property
    def duration_s(self) -> float:
        """When the last fault heals."""
        return max((s.end_s for s in self.steps), default=0.0)

    def active_at(self, t: float) -> list[FaultStep]:
        """Steps in force at ``t`` seconds."""
        return [s for s in self.steps if s.at_s <= t < s.end_s]

    @classmethod
    def random(
        cls,
        seed: int,
        targets: Sequence[str],
        faults: Iterable[str] = NETWORK_FAULTS,
        duration_s: float = 30.0,
        *,
        fault_s: tuple[float, float] = (1.0, 5.0),
        gap_s: tuple[float, float] = (0.5, 3.0),
        params: Mapping[str, ParamMaker] = DEFAULT_PARAMS,
    ) -> FaultPlan:
        """Non-overlapping faults within ``duration_s``, each ``fault_s`` long, ``gap_s`` apart."""
        kinds = list(faults)
        if not targets or not kinds:
            raise ConfigError("a random fault plan needs targets and fault kinds", subject="targets")
        unknown = [k for k in kinds if k not in params]
        if unknown:
            raise ConfigError(f"no parameter generator for {unknown}; pass params=", subject="faults")
        rng = random.Random(seed)
        steps, t = [], rng.uniform(*gap_s)
        while t + fault_s[0] <= duration_s:
            kind = rng.choice(kinds)
            length = min(rng.uniform(*fault_s), duration_s - t)
            steps.append(FaultStep(round(t, 3), kind, rng.choice(list(targets)), params[kind](rng), round(length, 3)))
            t += length + rng.uniform(*gap_s)
        return cls(tuple(steps), seed)

    def to_json(self) -> str:
        return json.dumps({"seed": self.seed, "steps": [s.to_dict() for s in self.steps]}, indent=1)

    @classmethod
    def from_json(cls, text: str) -> FaultPlan:
        try:
            data = json.loads(text)
            return cls(tuple(FaultStep.from_dict(s) for s in data["steps"]), data.get("seed"))
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"fault plan JSON is invalid: {exc}", subject="plan") from exc
