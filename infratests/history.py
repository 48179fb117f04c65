"""Histories: what really happened, as data (Jepsen's model). A leaf module: ``load/``, ``faults/``
and ``checks/`` all write or read it.

Every operation is recorded twice: an ``invoke`` when a client starts it and a
completion when it ends. The completion is ``ok`` (it happened), ``fail`` (it
certainly did not happen) or ``info`` (indeterminate: a timeout, a reset, any
exception whose outcome is unknown). Checkers are pure functions over a
:class:`History` and must treat ``info`` explicitly.

Faults are operations too: the nemesis records each as process ``nemesis`` with
``value = {"fault", "target", "phase", ...}`` (phase ``start``, ``heal`` or
``instant``; ``plan`` for a fault plan about to be applied), on the same clock as
the clients, and :meth:`History.fault_windows` reads back when each fault was in
force; :meth:`History.fault_plans` the plans.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

__all__ = ["NEMESIS", "FaultWindow", "History", "Op", "OpType", "Recorder", "fault_ops"]

#: The process name fault operations are recorded under.
NEMESIS = "nemesis"


class OpType(StrEnum):
    INVOKE = "invoke"
    OK = "ok"
    FAIL = "fail"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Op:
    """One event of a history; ``time`` is monotonic seconds, ``wall`` epoch seconds."""

    process: int | str
    type: OpType
    f: str
    value: Any = None
    time: float = 0.0
    wall: float = 0.0
    error: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), default=str)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Op:
        return cls(
            process=raw["process"],
            type=OpType(raw["type"]),
            f=raw["f"],
            value=raw.get("value"),
            time=float(raw.get("time", 0.0)),
            wall=float(raw.get("wall", 0.0)),
            error=raw.get("error"),
            extra=dict(raw.get("extra") or {}),
        )


@dataclass(frozen=True)
class FaultWindow:
    """A fault in force from ``start`` (the invoke that applied it) to ``end`` (the completion of the
    heal; ``inf`` if never healed)."""

    fault: str
    target: str
    start: float
    end: float
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def window(self) -> tuple[float, float]:
        return (self.start, self.end)

    @property
    def label(self) -> str:
        return f"{self.fault} {self.target}"


@dataclass(frozen=True)
class History:
    """An ordered, immutable sequence of operations."""

    ops: tuple[Op, ...]

    @classmethod
    def of(cls, ops: Iterable[Op]) -> History:
        return cls(tuple(ops))

    def __iter__(self) -> Iterator[Op]:
        return iter(self.ops)

    def __len__(self) -> int:
        return len(self.ops)

    def completions(self) -> list[Op]:
        return [op for op in self.ops if op.type is not OpType.INVOKE]

    def pairs(self) -> list[tuple[Op, Op | None]]:
        """(invoke, completion) per operation; completion is None if the run ended first."""
        pending: dict[int | str, Op] = {}
        result: list[tuple[Op, Op | None]] = []
        slots: dict[int | str, int] = {}
        for op in self.ops:
            if op.type is OpType.INVOKE:
                pending[op.process] = op
                slots[op.process] = len(result)
                result.append((op, None))
            elif op.process in pending:
                result[slots.pop(op.process)] = (pending.pop(op.process), op)
        return result

    def client_ops(self) -> History:
        """The history without the nemesis' operations."""
        return History.of(op for op in self.ops if op.process != NEMESIS)

    def fault_windows(self, fault: str | None = None, target: str | None = None) -> list[FaultWindow]:
        """When each fault (of kind ``fault``, on ``target``, if given) was in force, in start order: a
        ``start`` phase opens a window its ``heal`` closes; an ``instant`` one lasts its own operation."""
        windows: list[FaultWindow] = []
        open_: dict[tuple[str, str], list[tuple[float, Mapping[str, Any]]]] = {}
        for invoke, completion in self.pairs():
            if invoke.process != NEMESIS or not isinstance(invoke.value, Mapping):
                continue
            kind, where, phase = invoke.value["fault"], invoke.value["target"], invoke.value["phase"]
            params = invoke.value.get("params") or {}
            ended = completion.time if completion is not None else math.inf
            if phase == "start":
                open_.setdefault((kind, where), []).append((invoke.time, params))
            elif phase == "heal" and open_.get((kind, where)):
                began, params = open_[(kind, where)].pop(0)
                windows.append(FaultWindow(kind, where, began, ended, params))
            elif phase == "instant":
                windows.append(FaultWindow(kind, where, invoke.time, ended, params))
        windows += [FaultWindow(kind, where, began, math.inf, params)
                    for (kind, where), started in open_.items() for began, params in started]
        return sorted((w for w in windows if (fault is None or w.fault == fault)
                       and (target is None or w.target == target)), key=lambda w: w.start)

    def fault_plans(self) -> list[Mapping[str, Any]]:
        """The fault plans the nemesis applied (``{"seed", "steps"}``), in order."""
        return [op.value["params"] for op in self.ops
                if op.process == NEMESIS and op.type is OpType.INVOKE and isinstance(op.value, Mapping)
                and op.value.get("phase") == "plan"]

    def fault_window(self, fault: str | None = None, target: str | None = None) -> tuple[float, float]:
        """From the first matching fault's start to the last one's end (``LookupError`` if none)."""
        found = self.fault_windows(fault, target)
        if not found:
            raise LookupError(f"no {fault or 'fault'} on {target or 'any target'} in the history")
        return (found[0].start, max(w.end for w in found))

    @classmethod
    def merged(cls, *histories: History) -> History:
        """One history of several recorded on the same clock (a Locust run's and the nemesis')."""
        return cls.of(sorted((op for history in histories for op in history.ops), key=lambda op: op.time))

    def dump(self, path: Path) -> None:
        path.write_text("".join(op.to_json() + "\n" for op in self.ops))

    @classmethod
    def load(cls, path: Path) -> History:
        with path.open() as lines:
            return cls.of(Op.from_dict(json.loads(line)) for line in lines if line.strip())


def fault_ops(fault: str, target: str, start: float, end: float) -> list[Op]:
    """The nemesis' operations for ``fault`` on ``target`` in force from ``start`` to ``end`` (for
    histories written by hand: checker tests, benchmarks)."""
    def value(phase: str) -> dict[str, Any]:
        return {"fault": fault, "target": target, "phase": phase, "params": {}}
    return [Op(NEMESIS, OpType.INVOKE, f"start-{fault}", value("start"), start),
            Op(NEMESIS, OpType.OK, f"start-{fault}", value("start"), start),
            Op(NEMESIS, OpType.INVOKE, f"heal-{fault}", value("heal"), end),
            Op(NEMESIS, OpType.OK, f"heal-{fault}", value("heal"), end)]


class Recorder:
    """Thread-safe history recorder for workload clients.

    ``with recorder.op(process, "transfer", value) as result:`` records the
    invoke, then ``ok`` on return (``result.value`` may be set by the body),
    ``fail`` when the body raises one of ``definite`` (the operation certainly
    did not happen) and ``info`` for any other exception, which is re-raised.
    """

    def __init__(self) -> None:
        self._ops: list[Op] = []
        self._lock = threading.Lock()

    def record(self, process: int | str, type_: OpType, f: str, value: Any = None,
               error: str | None = None, **extra: Any) -> Op:
        op = Op(process, type_, f, value, time.monotonic(), time.time(), error, extra)
        with self._lock:
            self._ops.append(op)
        return op

    def op(self, process: int | str, f: str, value: Any = None,
           definite: tuple[type[BaseException], ...] = ()) -> _OpContext:
        return _OpContext(self, process, f, value, definite)

    def history(self) -> History:
        with self._lock:
            return History.of(self._ops)

    def count(self, f: str, type_: OpType | None = None) -> int:
        """How many ops of ``f`` (of ``type_``, when given) are recorded so far."""
        with self._lock:
            return sum(1 for op in self._ops if op.f == f and (type_ is None or op.type is type_))


class _OpContext:
    def __init__(self, recorder: Recorder, process: int | str, f: str, value: Any,
                 definite: tuple[type[BaseException], ...]) -> None:
        self._recorder, self._process, self._f = recorder, process, f
        self.value, self._definite = value, definite

    def __enter__(self) -> _OpContext:
        self._recorder.record(self._process, OpType.INVOKE, self._f, self.value)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 _tb: object) -> None:
        if exc is None:
            self._recorder.record(self._process, OpType.OK, self._f, self.value)
        elif isinstance(exc, self._definite):
            self._recorder.record(self._process, OpType.FAIL, self._f, self.value, repr(exc))
        else:
            self._recorder.record(self._process, OpType.INFO, self._f, self.value, repr(exc))
