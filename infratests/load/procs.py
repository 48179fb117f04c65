"""Locust processes under a hard deadline, with CPU sampling.

Every process runs in its own session (``start_new_session=True``) with the
caller's environment, so the ``INFRATESTS_SESSION`` marker reaches it and the
janitor can find leftovers. A monitor thread samples each process's CPU
time and enforces the deadline: SIGINT (Locust shuts down cleanly and writes
its stats), then SIGKILL to the whole group after ``kill_grace_s``. A run
therefore always ends, even with a LoadTestShape that never returns None.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CpuSample", "LocustProcesses", "cpu_seconds"]

try:
    import psutil

    _GONE: tuple[type[BaseException], ...] = (OSError, psutil.Error)
except ImportError:  # pragma: no cover - psutil ships with locust
    psutil = None
    _GONE = (OSError,)

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of ``pid`` (psutil, else /proc/<pid>/stat); None once gone."""
    try:
        if psutil is not None:
            times = psutil.Process(pid).cpu_times()
            return float(times.user + times.system)
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
    except _GONE:
        return None


@dataclass(frozen=True, slots=True)
class CpuSample:
    wall: float
    role: str
    cpu_s: float


class LocustProcesses:
    """``commands`` is ``[(role, argv), ...]``; the first is the main (standalone or master) process."""

    def __init__(self, commands: Sequence[tuple[str, Sequence[str]]], env: Mapping[str, str], cwd: Path,
                 deadline_s: float, kill_grace_s: float = 10.0, sample_s: float = 0.25) -> None:
        self._commands, self._env, self._cwd = commands, dict(env), cwd
        self._deadline_s, self._kill_grace_s, self._sample_s = deadline_s, kill_grace_s, sample_s
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: dict[str, Path] = {}
        self.samples: list[CpuSample] = []
        self.deadline_hit = False
        self._interrupted_at: float | None = None
        self._wake = threading.Event()
        self._monitor: threading.Thread | None = None

    def start(self) -> LocustProcesses:
        self._deadline = time.monotonic() + self._deadline_s
        try:
            for role, argv in self._commands:
                self.logs[role] = self._cwd / f"{role}.log"
                with self.logs[role].open("wb") as log:
                    self.children[role] = subprocess.Popen(
                        list(argv), cwd=self._cwd, env=self._env, stdin=subprocess.DEVNULL,
                        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        except BaseException:
            self.kill()
            raise
        self._monitor = threading.Thread(target=self._watch, name="locust-monitor", daemon=True)
        self._monitor.start()
        return self

    @property
    def main(self) -> subprocess.Popen[bytes]:
        return self.children[self._commands[0][0]]

    def alive(self) -> bool:
        return any(child.poll() is None for child in self.children.values())

    def interrupt(self) -> None:
        """SIGINT to the main process only; the others only if it is already gone.

        A master tells its workers to quit and waits for their final stats;
        interrupting the workers too would make them leave without reporting.
        """
        if self._interrupted_at is None:
            self._interrupted_at = time.monotonic()
        alive = [child for child in self.children.values() if child.poll() is None]
        targets = [self.main] if self.main in alive else alive
        for child in targets:
            _signal(child.pid, signal.SIGINT, group=False)

    def kill(self) -> None:
        for child in self.children.values():
            _signal(child.pid, signal.SIGKILL, group=True)
            if child.poll() is None:
                child.wait()

    def wait(self, timeout_s: float | None = None) -> bool:
        """Wait until every process has exited (the monitor enforces the deadline); True if they did."""
        end = None if timeout_s is None else time.monotonic() + timeout_s
        while self.alive():
            if end is not None and time.monotonic() >= end:
                return False
            time.sleep(0.05)
        return True

    def stop(self) -> None:
        """SIGINT now, SIGKILL after the grace period; idempotent; always reaps everything."""
        if self.alive():
            self.interrupt()
            self.wait(self._kill_grace_s)
        self.kill()
        self._wake.set()
        if self._monitor is not None:
            self._monitor.join()

    def _watch(self) -> None:
        while self.alive():
            self._sample()
            now = time.monotonic()
            if now >= self._deadline and self._interrupted_at is None:
                self.deadline_hit = True
                self.interrupt()
            if self._interrupted_at is not None and now >= self._interrupted_at + self._kill_grace_s:
                self.kill()
            if self._wake.wait(self._sample_s):
                return

    def _sample(self) -> None:
        now = time.time()
        for role, child in self.children.items():
            if child.poll() is None and (used := cpu_seconds(child.pid)) is not None:
                self.samples.append(CpuSample(now, role, used))


def _signal(pid: int, signum: signal.Signals, group: bool) -> None:
    try:
        if group:
            os.killpg(pid, signum)
        else:
            os.kill(pid, signum)
    except ProcessLookupError:
        pass
