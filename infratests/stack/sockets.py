"""TCP sockets of the stack's network namespace, read from ``/proc/net/tcp*``: what any app does on
the wire, seen without asking the app.

Every server of a stack listens on its own loopback port, so a port names a
service: the sockets whose remote port is an app's port are the connections
to it (from nginx, the fault proxy or a test's client), and an app-side socket
whose receive queue is empty has had its request read by the app.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

__all__ = ["TcpSocket", "tcp_sockets", "connections_to", "requests_read"]

_STATES = {"01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1", "05": "FIN_WAIT2",
           "06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT", "09": "LAST_ACK", "0A": "LISTEN",
           "0B": "CLOSING"}


@dataclass(frozen=True)
class TcpSocket:
    """One row of ``/proc/net/tcp``: ports, state, and the bytes queued each way."""

    local_port: int
    remote_port: int
    state: str
    tx_queue: int
    rx_queue: int
    inode: int


def tcp_sockets(proc_net: Path = Path("/proc/net")) -> list[TcpSocket]:
    """Every IPv4 and IPv6 TCP socket of the namespace whose ``/proc/<pid>/net`` is ``proc_net``."""
    found = []
    for table in ("tcp", "tcp6"):
        try:
            rows = (proc_net / table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for row in rows:
            fields = row.split()
            tx, rx = fields[4].split(":")
            found.append(TcpSocket(int(fields[1].rsplit(":", 1)[1], 16), int(fields[2].rsplit(":", 1)[1], 16),
                                   _STATES.get(fields[3], fields[3]), int(tx, 16), int(rx, 16), int(fields[9])))
    return found


def connections_to(ports: Collection[int], proc_net: Path = Path("/proc/net"),
                   states: Collection[str] = ("ESTABLISHED", "TIME_WAIT")) -> set[tuple[int, int]]:
    """(client port, server port) of each client-side socket connected to one of ``ports``."""
    return {(s.local_port, s.remote_port) for s in tcp_sockets(proc_net)
            if s.remote_port in ports and s.state in states}


def requests_read(port: int, proc_net: Path = Path("/proc/net")) -> int:
    """How many of this process's connections to the server on ``port`` the server has read
    everything from: requests it is handling (a slow request in flight), seen from the wire."""
    own = _own_inodes()
    sockets = tcp_sockets(proc_net)
    mine = {s.local_port for s in sockets if s.remote_port == port and s.inode in own
            and s.state == "ESTABLISHED" and s.tx_queue == 0}
    return sum(1 for s in sockets if s.local_port == port and s.remote_port in mine and s.rx_queue == 0)


def _own_inodes() -> set[int]:
    inodes = set()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = fd.readlink().name
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes
