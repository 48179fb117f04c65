"""The janitor: nothing a run starts outlives it.

A session (:mod:`infratests.session`) whose owner died (SIGKILL, power cut) is
reaped by the next run, or by ``infratests down``: its processes (found by their
``INFRATESTS_SESSION`` marker or recorded process group) are killed, its
containers removed, its port claims released and its directory removed.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from infratests.session import MARKER, Session, owned_directory, runtime_root, start_ticks, stat_fields

__all__ = ["open_session", "reap_leftovers", "session_processes"]


def open_session() -> Session:
    """Reap dead sessions' leftovers, then start a new session owned by this process."""
    reap_leftovers()
    session_id = uuid.uuid4().hex[:10]
    return Session(session_id, owned_directory(runtime_root() / session_id), _close)


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


def _close(session: Session) -> None:
    _kill_session(session.id, session.dir)


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


def _recorded_groups(directory: Path) -> dict[int, int]:
    try:
        lines = (directory / "groups").read_text().split("\n")
    except OSError:
        return {}
    return {int(pgid): int(ticks) for pgid, ticks in (line.split() for line in lines if line.strip())}


def _in_recorded_group(pid: int, groups: dict[int, int]) -> bool:
    fields = stat_fields(pid)
    if not fields or int(fields[2]) not in groups:
        return False
    # A process started before the group's leader cannot be ours (pgid reuse).
    return int(fields[19]) >= groups[int(fields[2])]


def _owner_alive(directory: Path) -> bool:
    try:
        pid, ticks = (int(part) for part in (directory / "owner").read_text().split())
    except (OSError, ValueError):
        return False
    return ticks != 0 and start_ticks(pid) == ticks
