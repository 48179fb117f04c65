"""Fault plans are data: validated, reproducible from a seed, round-tripped through JSON."""

from __future__ import annotations

import dataclasses

import pytest

from infratests.errors import ConfigError
from infratests.faults.network import NetworkFaults
from infratests.faults.plan import DEFAULT_PARAMS, FAULT_KINDS, NETWORK_FAULTS, PROCESS_FAULTS, FaultPlan, FaultStep


def test_step_is_frozen_and_validated() -> None:
    step = FaultStep(1.0, "latency", "postgres", {"ms": 200}, 2.0)
    assert step.end_s == 3.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        step.at_s = 5.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        step.params["ms"] = 1  # type: ignore[index]
    for bad in [dict(fault="meteor"), dict(at_s=-1.0), dict(duration_s=0.0), dict(target="")]:
        args = {"at_s": 0.0, "fault": "down", "target": "redis-1", "params": {}, "duration_s": 1.0} | bad
        with pytest.raises(ConfigError):
            FaultStep(**args)  # type: ignore[arg-type]


def test_params_copy_is_isolated_and_hashable() -> None:
    params = {"ms": 1}
    step = FaultStep(0.0, "latency", "pg", params, 1.0)
    params["ms"] = 2
    assert step.params == {"ms": 1}
    assert hash(step) == hash(FaultStep(0.0, "latency", "pg", {"ms": 1}, 1.0))


def test_random_is_reproducible_and_seed_sensitive() -> None:
    targets = ["postgres", "pgbouncer", "redis-1"]
    a = FaultPlan.random(42, targets, duration_s=60)
    assert a == FaultPlan.random(42, targets, duration_s=60)
    assert a != FaultPlan.random(43, targets, duration_s=60)
    assert a.seed == 42 and len(a.steps) >= 5


def test_random_respects_bounds_and_choices() -> None:
    plan = FaultPlan.random(7, ["a", "b"], ["latency", "down"], duration_s=30, fault_s=(1, 2), gap_s=(0.5, 1))
    assert plan.steps and plan.duration_s <= 30
    for prev, step in zip(plan.steps, plan.steps[1:], strict=False):
        assert step.at_s >= prev.end_s + 0.49  # no overlap, gap kept
    for step in plan.steps:
        assert step.fault in {"latency", "down"} and step.target in {"a", "b"}
        assert 1 <= step.duration_s <= 2 + 1e-9
    assert plan.active_at(plan.steps[0].at_s) == [plan.steps[0]]
    assert plan.active_at(plan.steps[0].at_s - 0.01) == []


def test_json_round_trip() -> None:
    plan = FaultPlan.random(3, ["pg"], duration_s=20)
    again = FaultPlan.from_json(plan.to_json())
    assert again == plan and again.seed == 3
    hand = FaultPlan((FaultStep(2, "down", "pg", {}, 1), FaultStep(1, "latency", "pg", {"ms": 5}, 1)))
    assert [s.at_s for s in hand.steps] == [1, 2] and hand.seed is None  # kept ordered by time
    assert FaultPlan.from_json(hand.to_json()) == hand


def test_bad_json_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        FaultPlan.from_json("{")
    with pytest.raises(ConfigError, match="target"):
        FaultPlan.from_json('{"steps": [{"at_s": 0, "fault": "down", "duration_s": 1}]}')


def test_default_params_match_network_fault_signatures() -> None:
    """Every kind's generated params are accepted keywords of the NetworkFaults method of that name."""
    import inspect
    import random

    assert set(DEFAULT_PARAMS) == set(FAULT_KINDS) == set(NETWORK_FAULTS) | set(PROCESS_FAULTS)
    for kind in NETWORK_FAULTS:
        make = DEFAULT_PARAMS[kind]
        signature = inspect.signature(getattr(NetworkFaults, kind))
        signature.bind(None, "target", **make(random.Random(0)))


def test_process_faults_are_plan_steps_too() -> None:
    """The nemesis applies crash/pause/terminate/restart to services; plans carry them as data."""
    step = FaultStep(0.5, "crash", "postgres", {}, 2.0)
    plan = FaultPlan.random(1, ["pgbouncer"], PROCESS_FAULTS, duration_s=20)
    assert {s.fault for s in plan.steps} <= set(PROCESS_FAULTS)
    assert FaultPlan.from_json(FaultPlan((step,)).to_json()).steps == (step,)
    assert {s.fault for s in FaultPlan.random(1, ["pg"], duration_s=60).steps} <= set(NETWORK_FAULTS)
