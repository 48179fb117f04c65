"""The nemesis: every fault a scenario applies goes through it and is recorded in the history.

Network faults (through the fault proxy) are context managers that heal on exit;
process faults act on the Service API. Each is recorded as operations of process
``nemesis`` in the same :class:`~infratests.history.Recorder` as the clients, on
the same clock: phase ``start`` when a fault is applied, ``heal`` when it is
removed, ``instant`` for one that is over when its call returns (a restart, a
signal). Checkers read the fault windows back with
:meth:`~infratests.history.History.fault_windows`. A :class:`FaultPlan` (seeded
data) is applied by :meth:`Nemesis.run` on a background thread, in time order.
"""

from __future__ import annotations

import signal as signals
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

from infratests.faults.plan import PROCESS_FAULTS, FaultPlan, FaultStep
from infratests.history import NEMESIS, OpType, Recorder

if TYPE_CHECKING:
    from infratests.faults.network import Fault
    from infratests.stack.service import Service
    from infratests.stack.topology import Stack

__all__ = ["Nemesis", "PlanRun", "RecordedFault"]

T = TypeVar("T")


class RecordedFault:
    """A network fault that records its start and heal: ``with nemesis.latency("postgres", ms=200):``."""

    def __init__(self, nemesis: Nemesis, kind: str, target: str, params: dict[str, Any],
                 make: Callable[[], Fault]) -> None:
        self._nemesis, self.kind, self.target, self.params, self._make = nemesis, kind, target, params, make
        self._fault: Fault | None = None

    def apply(self) -> RecordedFault:
        self._fault = self._nemesis.act(self.kind, self.target, "start", lambda: self._make().apply(), self.params)
        return self

    def heal(self) -> None:
        fault, self._fault = self._fault, None
        if fault is not None:
            self._nemesis.act(self.kind, self.target, "heal", fault.heal)

    def __enter__(self) -> RecordedFault:
        return self.apply()

    def __exit__(self, _type: type[BaseException] | None, _exc: BaseException | None,
                 _tb: TracebackType | None) -> None:
        self.heal()


class Nemesis:
    """``Nemesis(stack, recorder)``: the faults of one scenario, applied and recorded."""

    def __init__(self, stack: Stack, recorder: Recorder) -> None:
        self.stack, self.recorder = stack, recorder
        self._touched: set[str] = set()

    # -- recording -------------------------------------------------------------------------------------

    def act(self, fault: str, target: str, phase: str, action: Callable[[], T],
            params: dict[str, Any] | None = None) -> T:
        """Run ``action`` as one recorded nemesis operation; an exception is recorded ``info`` (the fault
        may or may not have happened) and re-raised."""
        value = {"fault": fault, "target": target, "phase": phase, "params": dict(params or {})}
        self.recorder.record(NEMESIS, OpType.INVOKE, f"{phase}-{fault}", value)
        try:
            result = action()
        except BaseException as error:
            self.recorder.record(NEMESIS, OpType.INFO, f"{phase}-{fault}", value, repr(error))
            raise
        self.recorder.record(NEMESIS, OpType.OK, f"{phase}-{fault}",
                             {**value, "result": result} if isinstance(result, int | float | str) else value)
        return result

    # -- network faults (Toxiproxy toxics and proxy switches; targets are proxy names) ------------------

    def network(self, kind: str, target: str, **params: Any) -> RecordedFault:
        """Any network fault by its plan name (``latency``, ``reset_peer``, ``down``...)."""
        return RecordedFault(self, kind, target, params, lambda: self.stack.faults.fault(kind, target, **params))

    def latency(self, target: str, ms: int, jitter: int = 0, stream: str = "downstream",
                toxicity: float = 1.0) -> RecordedFault:
        return self.network("latency", target, ms=ms, jitter=jitter, stream=stream, toxicity=toxicity)

    def bandwidth(self, target: str, kbps: int, stream: str = "downstream", toxicity: float = 1.0) -> RecordedFault:
        return self.network("bandwidth", target, kbps=kbps, stream=stream, toxicity=toxicity)

    def timeout(self, target: str, ms: int, stream: str = "downstream", toxicity: float = 1.0) -> RecordedFault:
        """Data stops flowing (a partition); ``ms`` 0: forever, else the connection closes after ``ms``."""
        return self.network("timeout", target, ms=ms, stream=stream, toxicity=toxicity)

    def slow_close(self, target: str, ms: int, stream: str = "downstream", toxicity: float = 1.0) -> RecordedFault:
        return self.network("slow_close", target, ms=ms, stream=stream, toxicity=toxicity)

    def reset_peer(self, target: str, after_ms: int = 0, stream: str = "downstream",
                   toxicity: float = 1.0) -> RecordedFault:
        return self.network("reset_peer", target, after_ms=after_ms, stream=stream, toxicity=toxicity)

    def cut_after_bytes(self, target: str, n: int, stream: str = "downstream",
                        toxicity: float = 1.0) -> RecordedFault:
        return self.network("cut_after_bytes", target, n=n, stream=stream, toxicity=toxicity)

    def down(self, target: str) -> RecordedFault:
        """The link refuses connections and drops the open ones."""
        return self.network("down", target)

    # -- process faults (targets are services, by name or as Service objects) --------------------------

    def kill(self, service: str | Service) -> None:
        """SIGKILL: a crash, no shutdown code runs; the service is down until :meth:`start`."""
        found = self._service(service)
        self.act("crash", found.name, "start", found.kill)

    def terminate(self, service: str | Service, timeout: float = 30.0) -> int | None:
        """SIGTERM and wait for the exit code (None: still running after ``timeout``); down until
        :meth:`start`."""
        found = self._service(service)
        return self.act("terminate", found.name, "start", lambda: found.terminate(timeout), {"timeout": timeout})

    def start(self, service: str | Service) -> None:
        """Start a killed or terminated service again (the heal of either; a terminated one that had not
        exited yet is stopped first)."""
        found = self._service(service)
        heals = {"crash": found.start, "terminate": lambda: _fresh_start(found)}
        for window in self.recorder.history().fault_windows(target=found.name):
            if window.fault in heals and window.end == float("inf"):
                self.act(window.fault, found.name, "heal", heals[window.fault])
                return
        self.act("start", found.name, "instant", found.start)

    def pause(self, service: str | Service) -> None:
        """SIGSTOP: the process holds its sockets and answers nothing (a GC pause, a frozen VM)."""
        found = self._service(service)
        self.act("pause", found.name, "start", found.pause)

    def resume(self, service: str | Service) -> None:
        found = self._service(service)
        self.act("pause", found.name, "heal", found.resume)

    def restart(self, service: str | Service, down_for: float = 0.0) -> float:
        """Stop, stay down ``down_for`` s, start; the seconds until it was ready again."""
        found = self._service(service)
        began = time.monotonic()
        self.act("restart", found.name, "instant", lambda: found.restart(down_for), {"down_for": down_for})
        return time.monotonic() - began

    def signal(self, service: str | Service, signum: signals.Signals) -> None:
        """Send ``signum`` to the service's process (``UnsupportedOperation`` where it has no pid)."""
        from infratests.errors import UnsupportedOperation

        found = self._service(service)
        pid = getattr(found, "pid", None)
        if pid is None:
            raise UnsupportedOperation(f"{found.name} has no process id to signal on this backend", found.name)
        self.act("signal", found.name, "instant", lambda: _send(pid, signum), {"signal": signum.name})

    @contextmanager
    def crashed(self, service: str | Service, restart: bool = True) -> Iterator[Service]:
        """Killed for the body; started again on exit when ``restart``."""
        found = self._service(service)
        self.kill(found)
        try:
            yield found
        finally:
            if restart:
                self.start(found)

    @contextmanager
    def paused(self, service: str | Service) -> Iterator[Service]:
        """Paused for the body; resumed on exit."""
        found = self._service(service)
        self.pause(found)
        try:
            yield found
        finally:
            self.resume(found)

    @contextmanager
    def dependency_failing(self, status: int = 500, delay_ms: int = 0) -> Iterator[None]:
        """The suite's dependency stub answers ``status`` after ``delay_ms`` for the body, then heals (the
        app-level outage of C-CB: the link stays up, the answers are errors)."""
        import httpx

        control = f"{self.stack['dependency'].endpoint.url}/control"

        def behave(answer: int, delay: int) -> None:
            httpx.post(control, json={"status": answer, "delay_ms": delay}, timeout=5.0).raise_for_status()

        params = {"status": status, "delay_ms": delay_ms}
        self.act("errors", "dependency", "start", lambda: behave(status, delay_ms), params)
        try:
            yield
        finally:
            self.act("errors", "dependency", "heal", lambda: behave(200, 0))

    # -- plans and cleanup ------------------------------------------------------------------------------

    def run(self, plan: FaultPlan) -> PlanRun:
        """Apply ``plan`` in the background while the body runs: ``with nemesis.run(plan): ...``."""
        return PlanRun(self, plan)

    def heal_all(self) -> None:
        """Remove every toxic, re-enable every proxy, resume or restart every service touched."""
        from infratests.faults.process import heal

        if "faultproxy" in self.stack.services:
            self.stack.faults.heal_all()
        for name in sorted(self._touched):
            heal(self.stack[name])

    def _service(self, service: str | Service) -> Service:
        if isinstance(service, str):
            self._touched.add(service)
            return self.stack[service]
        if service.name in self.stack.services:
            self._touched.add(service.name)
        return service


def _fresh_start(service: Service) -> None:
    """After a SIGTERM: whatever is left of the old process (or container) goes, a new one starts."""
    service.stop(graceful=False)
    service.start()


def _send(pid: int, signum: signals.Signals) -> None:
    import os

    os.kill(pid, signum)


class PlanRun:
    """A fault plan applied on a background thread: each step at ``at_s`` seconds after entering, healed
    ``duration_s`` later; leaving heals what is still applied (also when the body raised)."""

    def __init__(self, nemesis: Nemesis, plan: FaultPlan) -> None:
        self.nemesis, self.plan = nemesis, plan
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="nemesis", daemon=True)
        self._active: dict[FaultStep, Callable[[], None]] = {}

    def __enter__(self) -> Self:
        # the plan itself goes into the history (phase "plan": not a fault window), for replay and the report
        self.nemesis.act("plan", "stack", "plan", lambda: None,
                         {"seed": self.plan.seed, "steps": [step.to_dict() for step in self.plan.steps]})
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        for step in list(self._active):
            self._heal(step)
        self.nemesis.heal_all()

    def _run(self) -> None:
        began = time.monotonic()
        events = sorted([(s.at_s, s, False) for s in self.plan.steps] + [(s.end_s, s, True) for s in self.plan.steps],
                        key=lambda event: (event[0], not event[2]))
        for at, step, heal in events:
            if self._stop.wait(max(0.0, began + at - time.monotonic())):
                return
            try:
                self._heal(step) if heal else self._apply(step)
            except Exception as error:  # noqa: BLE001 - recorded as info; the plan goes on
                self.errors.append(error)

    def _apply(self, step: FaultStep) -> None:
        nemesis = self.nemesis
        if step.fault not in PROCESS_FAULTS:
            fault = nemesis.network(step.fault, step.target, **step.params).apply()
            self._active[step] = fault.heal
            return
        service = nemesis.stack[step.target]
        if step.fault == "restart":
            nemesis.restart(step.target)
            return
        action, heal = {
            "crash": (nemesis.kill, nemesis.start),
            "pause": (nemesis.pause, nemesis.resume),
            "terminate": (lambda s: nemesis.terminate(s, step.duration_s), nemesis.start),
        }[step.fault]
        action(service)
        self._active[step] = lambda: heal(service)

    def _heal(self, step: FaultStep) -> None:
        heal = self._active.pop(step, None)
        if heal is not None:
            heal()
