"""The worker threads of a workload: started together, stopped through one event, joined with a bound."""

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["Threads"]


class Threads:
    """``stopping`` is the event every worker loop watches; ``stop`` sets it and joins them all."""

    def __init__(self) -> None:
        self.stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self, *loops: Callable[[], None], name: str = "worker") -> None:
        self.stopping.clear()
        self._threads = [threading.Thread(target=loop, name=f"{name}-{n}", daemon=True)
                         for n, loop in enumerate(loops)]
        for thread in self._threads:
            thread.start()

    def stop(self, join_timeout_s: float) -> None:
        """Ask every loop to end and wait for each up to ``join_timeout_s`` (a loop blocked in I/O
        ends when its own timeout fires)."""
        self.stopping.set()
        for thread in self._threads:
            thread.join(join_timeout_s)
