"""Ephemeral loopback ports, never handed out twice in one run."""

from __future__ import annotations

import socket
import threading

__all__ = ["free_port", "LOOPBACK"]

LOOPBACK = "127.0.0.1"
_given: set[int] = set()
_lock = threading.Lock()


def free_port() -> int:
    """A port the kernel considers free on 127.0.0.1 now (the server binds it soon after)."""
    with _lock:
        while True:
            with socket.socket() as probe:
                probe.bind((LOOPBACK, 0))
                port = probe.getsockname()[1]
            if port not in _given:
                _given.add(port)
                return port
