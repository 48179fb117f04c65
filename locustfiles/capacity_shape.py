"""The capacity search's load shape: one Locust run whose steps the harness drives, with exact tallies.

Pass it next to a user locustfile (``-f users.py,capacity_shape.py``) to the
master and to every worker, wherever the worker runs. The master keeps one
run going for the whole search, so workers on other machines or in
containers connect once. ``INFRATESTS_CAPACITY_DIR`` is the run's control
directory (on the master's machine):

``control.json`` - written by the harness, read by the master once a second
    ``{"seq": n, "users": u, "rate_per_user": r or null, "mark": "name" or null,
    "stop": false}``: the users to run, their pace (task runs per second per
    user, the suite's locustfiles honour it; null: closed loop) and a tally to
    take now.
``mark-<name>.json`` - written by the master
    ``{"mark", "wall", "users", "processes": [tally, ...], "missing": [...]}``:
    every process's cumulative tally (``_tally.py``) at that instant; a worker
    that did not answer within 5 s is listed in ``missing``.
``live.json`` - written by the master every second
    the run as Locust's own statistics see it so far (progress lines).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import locust.runners
from _common import PACE
from _tally import Tally
from locust import LoadTestShape, events
from locust.runners import MasterRunner, WorkerRunner

__all__ = ["CapacityShape"]

# Locust's statistics reach the master every 3 s by default; the live progress reads them.
locust.runners.WORKER_REPORT_INTERVAL = 1.0
# A worker silent for 3 heartbeats is "missing" and, the last one gone, Locust ends the run: on a
# machine shared with the system under test a worker can stall that long. A stall is seen in the
# marks instead (a process that does not answer is listed as missing and the step is judged on it).
locust.runners.HEARTBEAT_LIVENESS = 30

_DIR = Path(os.environ.get("INFRATESTS_CAPACITY_DIR") or ".")
_MARK_TIMEOUT_S = 5.0
_TALLY = Tally()


def _write(path: Path, data: Any) -> None:
    staging = path.with_name(path.name + ".part")
    staging.write_text(json.dumps(data))
    staging.replace(path)


def _read_control() -> dict[str, Any]:
    try:
        return dict(json.loads((_DIR / "control.json").read_text()))
    except (OSError, ValueError):
        return {}


class _Marks:
    """On the master (or a standalone Locust): tallies asked for, written once every process answered."""

    def __init__(self) -> None:
        self.pending: dict[str, dict[str, Any]] = {}

    def open(self, runner: Any, name: str) -> None:
        role = "master" if isinstance(runner, MasterRunner) else "local"
        mark = {"mark": name, "wall": time.time(), "users": runner.user_count,
                "processes": [_TALLY.snapshot(role, role)], "waiting": set()}
        if isinstance(runner, MasterRunner):
            nodes = runner.clients.ready + runner.clients.spawning + runner.clients.running
            mark["waiting"] = {node.id for node in nodes}
            runner.send_message("infratests_mark", name)
        self.pending[name] = mark
        self._close_if_complete(name)

    def reply(self, environment: Any, msg: Any, **_: Any) -> None:
        mark = self.pending.get(msg.data["mark"])
        if mark is None:
            return  # answered after its timeout: the mark was written without it
        mark["processes"].append(msg.data["tally"])
        mark["waiting"].discard(msg.node_id)
        self._close_if_complete(msg.data["mark"])

    def expire(self) -> None:
        for name, mark in list(self.pending.items()):
            if time.time() - mark["wall"] > _MARK_TIMEOUT_S:
                self._write(name)

    def _close_if_complete(self, name: str) -> None:
        if not self.pending[name]["waiting"]:
            self._write(name)

    def _write(self, name: str) -> None:
        mark = self.pending.pop(name)
        missing = sorted(mark.pop("waiting"))
        _write(_DIR / f"mark-{name}.json", {**mark, "missing": missing})


_MARKS = _Marks()


@events.request.add_listener
def _count(response_time: float | None = None, exception: BaseException | None = None, response: Any = None,
           **_: Any) -> None:
    _TALLY.add(response_time, exception, response)


def _answer_mark(environment: Any, msg: Any, **_: Any) -> None:
    runner = environment.runner
    runner.send_message("infratests_tally", {"mark": msg.data,
                                             "tally": _TALLY.snapshot(runner.client_id, "worker")})


def _set_pace(environment: Any, msg: Any, **_: Any) -> None:
    PACE.rate_per_user = float(msg.data or 0.0)


@events.init.add_listener
def _on_init(environment: Any, **_: Any) -> None:
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        runner.register_message("infratests_mark", _answer_mark)
        runner.register_message("infratests_pace", _set_pace)
    elif isinstance(runner, MasterRunner):
        runner.register_message("infratests_tally", _MARKS.reply)


class CapacityShape(LoadTestShape):
    """Users and pace from ``control.json``; a tally whenever the harness asks; ends on ``stop``."""

    def __init__(self) -> None:
        super().__init__()
        self._seq: Any = None
        self._users = 1

    def tick(self) -> tuple[int, float] | None:
        control = _read_control()
        if control and control.get("seq") != self._seq:
            self._seq = control.get("seq")
            self._apply(control)
        _MARKS.expire()
        self._write_live()
        if control.get("stop"):
            return None
        return self._users, float(self._users)  # every user of a step starts within a second

    def _apply(self, control: dict[str, Any]) -> None:
        rate = float(control.get("rate_per_user") or 0.0)
        PACE.rate_per_user = rate
        if isinstance(self.runner, MasterRunner):
            self.runner.send_message("infratests_pace", rate)
        self._users = max(1, int(control.get("users") or 1))
        if control.get("mark"):
            _MARKS.open(self.runner, str(control["mark"]))

    def _write_live(self) -> None:
        runner, total = self.runner, self.runner.stats.total  # type: ignore[union-attr]
        _write(_DIR / "live.json", {"wall": time.time(), "users": runner.user_count,
                                    "requests": total.num_requests, "failures": total.num_failures,
                                    "workers": getattr(runner, "worker_count", 0)})
