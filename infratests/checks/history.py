"""Histories: what really happened, as data (Jepsen's model).

Every operation is recorded twice: an ``invoke`` when a client starts it and a
completion when it ends. The completion is ``ok`` (it happened), ``fail`` (it
certainly did not happen) or ``info`` (indeterminate: a timeout, a reset, any
exception whose outcome is unknown). Checkers are pure functions over a
:class:`History` and must treat ``info`` explicitly.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

__all__ = ["OpType", "Op", "History", "Recorder"]


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

    def dump(self, path: Path) -> None:
        path.write_text("".join(op.to_json() + "\n" for op in self.ops))

    @classmethod
    def load(cls, path: Path) -> History:
        with path.open() as lines:
            return cls.of(Op.from_dict(json.loads(line)) for line in lines if line.strip())


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
