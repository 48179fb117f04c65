"""Loopback ports for the stack's servers, never handed out twice in one run.

Ports come from below the kernel's ephemeral range (``ip_local_port_range``,
32768+ by default): a port taken from inside it can be grabbed by any
outgoing connection between the moment we pick it and the moment the server
binds it (seen with containers, which take a second or two to bind).
"""

from __future__ import annotations

import random
import socket
import threading
from pathlib import Path

__all__ = ["free_port", "LOOPBACK"]

LOOPBACK = "127.0.0.1"
_LOWEST = 15000
_given: set[int] = set()
_lock = threading.Lock()


def free_port() -> int:
    """A port below the ephemeral range that nothing on 127.0.0.1 holds now."""
    ceiling = _ephemeral_start()
    with _lock:
        for _attempt in range(1000):
            port = random.randrange(_LOWEST, ceiling)
            if port not in _given and _bindable(port):
                _given.add(port)
                return port
    raise OSError(f"no free port in {_LOWEST}..{ceiling - 1} on {LOOPBACK}")


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
