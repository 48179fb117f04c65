"""Sessions and the janitor: nothing a run starts outlives it.

Every child process carries ``INFRATESTS_SESSION=<id>`` in its environment and
runs in its own process group, recorded in the session directory
(``<runtime root>/<id>``, short enough for Unix socket paths). A session whose
owner died (SIGKILL, power cut) is reaped by the next run, or by
``infratests down``: its processes are killed and its directory removed.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MARKER", "Session", "machine_root", "open_session", "owned_directory", "process_identity",
           "reap_leftovers", "runtime_root", "session_processes"]

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
    """One run of the suite: an id, a directory, and the process that owns them."""

    id: str
    dir: Path

    def child_env(self) -> dict[str, str]:
        return {MARKER: self.id}

    def record_group(self, pgid: int) -> None:
        """Remember a process group so the janitor can kill it even if the marker is lost."""
        with (self.dir / "groups").open("a") as groups:
            groups.write(f"{pgid} {_start_ticks(pgid)}\n")

    def service_dir(self, name: str) -> Path:
        path = self.dir / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def close(self) -> None:
        """Kill whatever of this session still runs and remove its directory (idempotent)."""
        _kill_session(self.id, self.dir)


def open_session() -> Session:
    """Reap dead sessions' leftovers, then start a new session owned by this process."""
    reap_leftovers()
    session_id = uuid.uuid4().hex[:10]
    return Session(session_id, owned_directory(runtime_root() / session_id))


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


def reap_leftovers(include_live: bool = False) -> list[str]:
    """Kill and remove every session whose owner is gone; return their ids.

    ``include_live`` also ends sessions whose owner still runs: the owner gets
    SIGTERM (it tears its stack down), whatever remains after 10 s is killed.
    """
    root = runtime_root()
    reaped = []
    for directory in sorted(root.glob("*")) if root.is_dir() else []:
        if not directory.is_dir() or directory.name.startswith("."):
            continue  # a directory being created (see owned_directory)
        if _owner_alive(directory):
            if not include_live:
                continue
            _stop_owner(directory)
        _kill_session(directory.name, directory)
        reaped.append(directory.name)
    from infratests.stack.ports import reap_dead_claims

    reap_dead_claims()
    return reaped


def _stop_owner(directory: Path) -> None:
    pid = int((directory / "owner").read_text().split()[0])
    _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10.0
    while directory.exists() and _owner_alive(directory) and time.monotonic() < deadline:
        time.sleep(0.05)


def session_processes(session_id: str, directory: Path | None = None) -> list[int]:
    """Pids that carry the session marker or belong to one of its recorded groups."""
    needle = f"{MARKER}={session_id}\0".encode()
    groups = _recorded_groups(directory) if directory else {}
    found = []
    for pid in _pids():
        if pid == os.getpid():
            continue
        if _has_marker(pid, needle) or _in_recorded_group(pid, groups):
            found.append(pid)
    return found


def _kill_session(session_id: str, directory: Path) -> None:
    for nested in _nested_sessions(directory):
        _kill_session(nested.name, nested)
    _remove_containers(session_id)
    for _attempt in range(50):
        pids = session_processes(session_id, directory)
        if not pids:
            break
        for pid in pids:
            _signal(pid, signal.SIGKILL)
        time.sleep(0.02)
    shutil.rmtree(directory, ignore_errors=True)


def _remove_containers(session_id: str) -> None:
    """The Docker backend's containers of the session (only where a Docker daemon may run)."""
    if not (os.path.exists("/var/run/docker.sock") or "DOCKER_HOST" in os.environ):
        return
    from infratests.stack.docker.reaper import remove_session_containers

    remove_session_containers(session_id)


def _nested_sessions(directory: Path) -> list[Path]:
    try:
        return [child for child in directory.iterdir() if (child / "owner").is_file()]
    except OSError:
        return []


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _pids() -> Iterator[int]:
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            yield int(entry.name)


def _has_marker(pid: int, needle: bytes) -> bool:
    try:
        return needle in Path(f"/proc/{pid}/environ").read_bytes() + b"\0"
    except OSError:
        return False


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may contain spaces; fields start after its closing paren.
    return raw[raw.rindex(")") + 2:].split()


def _start_ticks(pid: int) -> int:
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else 0


def _recorded_groups(directory: Path) -> dict[int, int]:
    try:
        lines = (directory / "groups").read_text().split("\n")
    except OSError:
        return {}
    return {int(pgid): int(ticks) for pgid, ticks in (line.split() for line in lines if line.strip())}


def _in_recorded_group(pid: int, groups: dict[int, int]) -> bool:
    fields = _stat_fields(pid)
    if not fields or int(fields[2]) not in groups:
        return False
    # A process started before the group's leader cannot be ours (pgid reuse).
    return int(fields[19]) >= groups[int(fields[2])]


def process_identity(pid: int) -> str:
    """``"pid start-ticks\n"``: names one process even after its pid is reused (ticks 0: gone)."""
    return f"{pid} {_start_ticks(pid)}\n"


def _owner_alive(directory: Path) -> bool:
    try:
        pid, ticks = (int(part) for part in (directory / "owner").read_text().split())
    except (OSError, ValueError):
        return False
    return ticks != 0 and _start_ticks(pid) == ticks
