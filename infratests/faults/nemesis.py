"""The nemesis: applies a fault plan to a running stack and records what it did.

The plan is data (:mod:`infratests.faults.plan`); this module is the code that
applies it, on a background thread, in time order: each step is applied at
``at_s`` and healed at ``at_s + duration_s``. Network faults go through the
fault proxy; process faults (``crash``, ``pause``, ``terminate``, ``restart``)
through the Service API. Every application and heal is recorded in the
history as a ``nemesis`` operation, so checkers can line up client
operations with the faults. Leaving the context heals (and records) what is
still applied, then heals everything as a safety net, also when the scenario
failed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Self

from infratests.checks.history import OpType, Recorder
from infratests.faults import process
from infratests.faults.plan import FaultPlan, FaultStep

if TYPE_CHECKING:
    from infratests.faults.network import Fault
    from infratests.stack.topology import Stack

__all__ = ["Nemesis", "PROCESS_FAULTS"]

PROCESS_FAULTS = ("crash", "pause", "terminate", "restart")


class Nemesis:
    """``with Nemesis(stack, plan, recorder): <run the workload>``."""

    def __init__(self, stack: Stack, plan: FaultPlan, recorder: Recorder | None = None) -> None:
        self.stack, self.plan = stack, plan
        self.recorder = recorder or Recorder()
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="nemesis", daemon=True)
        self._touched: set[str] = set()
        self._applied: dict[FaultStep, Fault] = {}
        self._active: set[FaultStep] = set()

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        for step in list(self._active):
            self._do(step, heal=True)
        self.heal_all()

    def heal_all(self) -> None:
        """Remove every toxic, re-enable every proxy, resume or restart every touched service."""
        if "faultproxy" in self.stack.services:
            self.stack.faults.heal_all()
        for name in sorted(self._touched):
            process.heal(self.stack[name])

    def _run(self) -> None:
        began = time.monotonic()
        for at, step, heal in self._timeline():
            if self._stop.wait(max(0.0, began + at - time.monotonic())):
                return
            self._do(step, heal)

    def _timeline(self) -> list[tuple[float, FaultStep, bool]]:
        events = [(step.at_s, step, False) for step in self.plan.steps]
        events += [(step.end_s, step, True) for step in self.plan.steps]
        return sorted(events, key=lambda event: (event[0], not event[2]))

    def _do(self, step: FaultStep, heal: bool) -> None:
        name = f"{'heal' if heal else 'start'}-{step.fault}"
        (self._active.discard if heal else self._active.add)(step)
        value = {"target": step.target, "params": dict(step.params)}
        self.recorder.record("nemesis", OpType.INVOKE, name, value)
        try:
            self._action(step, heal)()
        except Exception as error:  # noqa: BLE001 - recorded: the fault may or may not have happened
            self.errors.append(error)
            self.recorder.record("nemesis", OpType.INFO, name, value, repr(error))
            return
        self.recorder.record("nemesis", OpType.OK, name, value)

    def _action(self, step: FaultStep, heal: bool) -> Callable[[], object]:
        if step.fault not in PROCESS_FAULTS:
            if heal:
                applied = self._applied.pop(step, None)
                return applied.heal if applied else (lambda: None)
            fault = self.stack.faults.fault(step.fault, step.target, **step.params)
            self._applied[step] = fault
            return fault.apply
        service = self.stack[step.target]
        self._touched.add(step.target)
        if heal:
            return lambda: process.heal(service)
        return {
            "crash": service.kill,
            "pause": service.pause,
            "terminate": lambda: service.terminate(step.duration_s),
            "restart": lambda: service.restart(0.0),
        }[step.fault]
