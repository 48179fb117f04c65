"""The harness's side of the capacity shape (``locustfiles/capacity_shape.py``): files in one directory.

The harness writes ``control.json`` (atomically, a new ``seq`` each time);
the shape, on Locust's master, reads it once a second and answers with
``mark-<name>.json`` and ``live.json``. See the shape's docstring for the
formats.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from infratests.errors import ServiceError
from infratests.load.steps import Step
from infratests.load.tallies import read_mark

__all__ = ["SHAPE_FILE", "ShapeControl"]

#: The shape's built-in locustfile name (resolved among the suite's locustfiles).
SHAPE_FILE = "capacity_shape"


class ShapeControl:
    """``set`` a step, take a ``mark``, read ``live`` progress, ``stop`` the run."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._seq = 0
        self._step: Step | None = None
        directory.mkdir(parents=True, exist_ok=True)
        for stale in [*directory.glob("mark-*.json"), directory / "live.json", directory / "control.json"]:
            stale.unlink(missing_ok=True)

    def set(self, step: Step) -> None:
        """Run ``step`` from the shape's next tick on."""
        self._step = step
        self._write(step, None, False)

    def stop(self) -> None:
        """End the run at the shape's next tick (Locust then quits and writes its statistics)."""
        if self._step is not None:
            self._write(self._step, None, True)

    def mark(self, name: str, alive: Callable[[], bool], timeout_s: float = 15.0) -> dict[str, Any]:
        """Ask for a tally of every process and wait for it (the shape's tick is once a second)."""
        assert self._step is not None, "set a step first"
        self._write(self._step, name, False)
        path = self.directory / f"mark-{name}.json"
        self._wait(path.exists, alive, timeout_s, f"mark {name!r}")
        return read_mark(path)

    def live(self) -> dict[str, Any] | None:
        """Locust's own running totals as the shape last wrote them; None before its first tick."""
        try:
            return dict(json.loads((self.directory / "live.json").read_text()))
        except (OSError, ValueError):
            return None

    def wait_started(self, alive: Callable[[], bool], timeout_s: float) -> None:
        """Until the shape ticks: Locust runs, with every worker it expects connected."""
        self._wait(lambda: self.live() is not None, alive, timeout_s, "Locust's first tick")

    def _wait(self, done: Callable[[], bool], alive: Callable[[], bool], timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while not done():
            if not alive():
                raise ServiceError(f"Locust ended while the capacity search waited for {what}; see the "
                                   f"logs in {self.directory}", self.directory)
            if time.monotonic() > deadline:
                raise ServiceError(f"no {what} from Locust within {timeout_s:g} s; see the logs in "
                                   f"{self.directory}", self.directory)
            time.sleep(0.1)

    def _write(self, step: Step, mark: str | None, stop: bool) -> None:
        self._seq += 1
        data = {"seq": self._seq, "users": step.users, "rate_per_user": step.rate_per_user, "mark": mark,
                "stop": stop}
        staging = self.directory / "control.json.part"
        staging.write_text(json.dumps(data))
        staging.replace(self.directory / "control.json")
