"""Per-request Locust histories (JSONL written by ``locustfiles/_common.py``) as a :class:`History`.

Each JSONL row is one finished request. It becomes two ops for process
``row["user"]``: an ``invoke`` at the request's start and a completion at
start + latency. The completion type follows one rule:

* ``info`` - no complete response: status 0, a timeout, a reset, a TLS or
  read error (``kind == "transport"``), or a status listed in
  ``indeterminate_statuses`` (e.g. 502/504 behind a proxy, where the upstream
  may have done the work). It may or may not have happened.
* ``fail`` - a definite HTTP error: status 4xx/5xx received.
* ``ok`` - status 2xx/3xx. A locustfile verdict on a 2xx body
  (``kind == "check"``) stays ``ok`` with ``extra["check_error"]``: the server
  did answer success.

``extra`` keeps ``status``, ``latency_ms``, ``request_id``, ``method``,
``length`` and ``pid``; ``f`` is the Locust request name.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from infratests.errors import ConfigError
from infratests.history import History, Op, OpType

__all__ = ["completion_type", "history_files", "load_history", "read_rows", "rows_to_history"]


def history_files(path: Path) -> list[Path]:
    """PATH plus the per-worker parts ``PATH.w<pid>`` that exist, in a stable order."""
    parts = sorted(path.parent.glob(path.name + ".w*"))
    return ([path] if path.exists() else []) + parts


def read_rows(path: Path) -> list[dict[str, Any]]:
    """All rows of a history (standalone and worker parts), sorted by start time."""
    rows: list[dict[str, Any]] = []
    for part in history_files(path):
        rows.extend(_parse(part))
    return sorted(rows, key=lambda row: (row["mono"], row["wall"]))


def _parse(part: Path) -> Iterator[dict[str, Any]]:
    with part.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                # A SIGKILLed writer can leave half a line at the end; anything else is corruption.
                if lines.readline():
                    raise ConfigError(f"{part}:{number}: not a JSON history row: {exc}", part) from exc


def completion_type(row: Mapping[str, Any], indeterminate_statuses: frozenset[int] = frozenset()) -> OpType:
    """The module rule: transport/0/indeterminate status -> info, >= 400 -> fail, else ok."""
    status = int(row.get("status") or 0)
    if status == 0 or row.get("kind") == "transport" or status in indeterminate_statuses:
        return OpType.INFO
    return OpType.FAIL if status >= 400 else OpType.OK


def _ops(row: Mapping[str, Any], indeterminate: frozenset[int]) -> tuple[Op, Op]:
    latency_s = float(row["latency_ms"]) / 1000.0
    extra = {key: row.get(key) for key in ("status", "latency_ms", "request_id", "method", "length", "pid")}
    invoke = Op(row["user"], OpType.INVOKE, row["name"], None, float(row["mono"]), float(row["wall"]),
                None, extra)
    kind = completion_type(row, indeterminate)
    if kind is OpType.OK and row.get("kind") == "check":
        extra = {**extra, "check_error": row.get("error")}
    error = row.get("error") if kind is not OpType.OK else None
    if kind is OpType.FAIL and error is None:
        error = f"HTTP {row.get('status')}"
    done = Op(row["user"], kind, row["name"], None, invoke.time + latency_s, invoke.wall + latency_s,
              error, extra)
    return invoke, done


def rows_to_history(rows: Iterable[Mapping[str, Any]],
                    indeterminate_statuses: frozenset[int] = frozenset()) -> History:
    """Invoke + completion per row, ordered by monotonic time (completions first on ties)."""
    ops = [op for row in rows for op in _ops(row, indeterminate_statuses)]
    ops.sort(key=lambda op: (op.time, op.type is OpType.INVOKE))
    return History.of(ops)


def load_history(path: Path, indeterminate_statuses: frozenset[int] = frozenset()) -> History:
    """The :class:`History` of one Locust run (all processes) from its JSONL path."""
    return rows_to_history(read_rows(path), indeterminate_statuses)
