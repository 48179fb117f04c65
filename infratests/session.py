"""Sessions: one run of the suite, its directory and the processes it starts. A leaf module: the
stack records its processes here; the janitor (:mod:`infratests.janitor`) reaps what a session left.

Every child process carries ``INFRATESTS_SESSION=<id>`` in its environment and
runs in its own process group, recorded in the session directory
(``<runtime root>/<id>``, short enough for Unix socket paths).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["MARKER", "Session", "machine_root", "owned_directory", "process_identity", "runtime_root",
           "start_ticks", "stat_fields"]

MARKER = "INFRATESTS_SESSION"


def runtime_root() -> Path:
    """``$INFRATESTS_RUNDIR``, else :func:`machine_root`."""
    if "INFRATESTS_RUNDIR" in os.environ:
        return Path(os.environ["INFRATESTS_RUNDIR"])
    return machine_root()


def machine_root() -> Path:
    """What every run on this machine shares, whatever its own runtime root: tmpfs (/dev/shm: a data
    directory copies 10x faster), else /tmp."""
    shm = Path("/dev/shm")
    return shm / "infratests" if os.access(shm, os.W_OK) else Path("/tmp/infratests")


@dataclass(frozen=True)
class Session:
    """One run of the suite: an id, a directory, and the process that owns them. ``reaper`` is what
    :meth:`close` runs (the janitor's: kill the session's processes and containers, remove its
    directory)."""

    id: str
    dir: Path
    reaper: Callable[[Session], None] = field(repr=False, compare=False)

    def child_env(self) -> dict[str, str]:
        return {MARKER: self.id}

    def record_group(self, pgid: int) -> None:
        """Remember a process group so the janitor can kill it even if the marker is lost."""
        with (self.dir / "groups").open("a") as groups:
            groups.write(f"{pgid} {start_ticks(pgid)}\n")

    def service_dir(self, name: str) -> Path:
        path = self.dir / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def part(self, name: str) -> Session:
        """A session of the same run in a sub-directory (a test's private stack): same id and marker."""
        return Session(self.id, self.dir / name, self.reaper)

    def close(self) -> None:
        """Kill whatever of this session still runs and remove its directory (idempotent)."""
        self.reaper(self)


def owned_directory(path: Path) -> Path:
    """Create ``path`` owned by this process: once it dies, the janitor reaps the directory and any
    session nested in it (a test's private runtime root, say).

    The directory appears with its owner file already in it (made under a dot-name, then renamed),
    so a janitor running at the same moment never takes it for an abandoned one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o755)
    staging = path.with_name(f".{path.name}")
    staging.mkdir(mode=0o755)
    (staging / "owner").write_text(process_identity(os.getpid()))
    staging.rename(path)
    return path


def stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may contain spaces; fields start after its closing paren.
    return raw[raw.rindex(")") + 2:].split()


def start_ticks(pid: int) -> int:
    fields = stat_fields(pid)
    return int(fields[19]) if fields else 0


def process_identity(pid: int) -> str:
    """``"pid start-ticks\n"``: names one process even after its pid is reused (ticks 0: gone)."""
    return f"{pid} {start_ticks(pid)}\n"
