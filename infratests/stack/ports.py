"""Loopback ports for the stack's servers, never handed out twice on this machine at once.

Ports come from below the kernel's ephemeral range (``ip_local_port_range``,
32768+ by default): a port taken from inside it can be grabbed by any
outgoing connection between the moment we pick it and the moment the server
binds it (seen with containers, which take a second or two to bind).

Between picking a port and a server binding it, another run (an xdist worker,
a mutant's pytest, a run with a runtime root of its own) could pick the same
one: each port handed out is claimed machine-wide by a file
``<machine root>/.ports/<port>`` naming this process (under a file lock;
``$INFRATESTS_PORTS_DIR`` moves the directory, for tests). A claim is honoured while its process lives; the
process's claims are removed when it exits (the directory too when it is the
last), a killed process's are taken over.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import random
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from infratests.session import machine_root, process_identity

__all__ = ["LOOPBACK", "claims_dir", "free_port", "reap_dead_claims"]

LOOPBACK = "127.0.0.1"
_LOWEST = 15000
_claimed: dict[Path, set[int]] = {}  # claims directory -> ports this process claimed there
_lock = threading.Lock()


def free_port() -> int:
    """A port below the ephemeral range that nothing on 127.0.0.1 holds now."""
    ceiling = _ephemeral_start()
    with _lock, _claims() as claims:
        for _attempt in range(1000):
            port = random.randrange(_LOWEST, ceiling)
            given = any(port in ports for ports in _claimed.values())
            if not given and _bindable(port) and _claim(claims, port):
                _claimed.setdefault(claims, set()).add(port)
                return port
    raise OSError(f"no free port in {_LOWEST}..{ceiling - 1} on {LOOPBACK}")


@contextmanager
def _claims(directory: Path | None = None) -> Iterator[Path]:
    """The claims directory (of the runtime root), locked against other processes.

    The last process to leave removes the directory: a lock taken on a file that was removed
    meanwhile is no lock, so it is taken again on the current one.
    """
    directory = directory or claims_dir()
    while True:
        directory.mkdir(parents=True, exist_ok=True)
        try:
            lock = open(directory / "lock", "a")
        except FileNotFoundError:  # removed between mkdir and open
            continue
        with lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                current = os.stat(directory / "lock").st_ino == os.fstat(lock.fileno()).st_ino
            except FileNotFoundError:
                current = False
            if current:
                yield directory
                return


def _claim(claims: Path, port: int) -> bool:
    """Claim ``port`` unless a live process holds it."""
    me = process_identity(os.getpid())
    path = claims / str(port)
    try:
        holder = path.read_text()
    except FileNotFoundError:
        holder = ""
    if holder != me and _alive(holder):
        return False
    path.write_text(me)
    return True


def claims_dir() -> Path:
    """Where every run on this machine claims its ports."""
    override = os.environ.get("INFRATESTS_PORTS_DIR")
    return Path(override) if override else machine_root() / ".ports"


def reap_dead_claims() -> None:
    """Drop the claims whose process is gone (the janitor's part after a SIGKILL)."""
    directory = claims_dir()
    if not directory.is_dir():
        return
    with _claims(directory):
        for path in directory.iterdir():
            try:
                if path.name != "lock" and not _alive(path.read_text()):
                    path.unlink()
            except OSError:  # taken over or released meanwhile
                continue
        _remove_if_unclaimed(directory)


def _alive(holder: str) -> bool:
    """Does the process a claim names (``"pid start-ticks"``) still run?"""
    try:
        return process_identity(int(holder.split()[0])) == holder
    except (ValueError, IndexError):  # empty or torn: nobody holds it
        return False


def _remove_if_unclaimed(directory: Path) -> None:
    if [p.name for p in directory.iterdir()] == ["lock"]:
        (directory / "lock").unlink()
        directory.rmdir()


@atexit.register
def _release() -> None:
    """Drop this process's claims (a forked child leaves its parent's alone), and the directory
    when no claim is left in it."""
    me = process_identity(os.getpid())
    for directory, claimed in _claimed.items():
        if not directory.is_dir():
            continue
        with _claims(directory):
            for port in claimed:
                path = directory / str(port)
                try:
                    if path.read_text() == me:
                        path.unlink()
                except OSError:
                    continue
            _remove_if_unclaimed(directory)
    _claimed.clear()


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def _ephemeral_start() -> int:
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    return max(low, _LOWEST + 1000)
