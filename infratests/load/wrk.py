"""wrk, a load generator in C: the reference for what a generator can get out of an endpoint.

Its rate next to Locust's on the same URL in the same run tells whether a
measured limit is the system's or the Python generator's. Headers (a health
secret) go through a Lua script in a private temporary file, never on the
command line.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from infratests.errors import ServiceError, UnsupportedOperation

__all__ = ["WrkResult", "run_wrk"]

_RATE = re.compile(r"^Requests/sec:\s+([0-9.]+)", re.MULTILINE)
_P99 = re.compile(r"^\s+99%\s+([0-9.]+)(us|ms|s)\b", re.MULTILINE)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


@dataclass(frozen=True)
class WrkResult:
    url: str
    seconds: float
    connections: int
    threads: int
    rps: float
    p99_ms: float | None
    errors: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_wrk(url: str, duration_s: float, connections: int = 10, threads: int = 1,
            headers: Mapping[str, str] | None = None) -> WrkResult:
    """wrk's rate, p99 and errors (non-2xx/3xx answers, socket errors) on ``url``.

    Raises :class:`UnsupportedOperation` when wrk is not installed.
    """
    binary = shutil.which("wrk")
    if binary is None:
        raise UnsupportedOperation("wrk is not installed (apt-get install wrk)", "wrk")
    threads = max(1, threads)
    seconds = max(1, round(duration_s))
    with tempfile.TemporaryDirectory(prefix="infratests-wrk-") as scratch:
        argv = [binary, f"-t{threads}", f"-c{max(connections, threads)}", f"-d{seconds}s", "--latency"]
        if headers:
            argv += ["-s", str(_header_script(Path(scratch), headers))]
        done = _run([*argv, url], seconds + 30)
    match = _RATE.search(done.stdout)
    if done.returncode != 0 or match is None:
        raise ServiceError(f"wrk failed (exit {done.returncode}): {(done.stderr or done.stdout)[-500:]}", url)
    return WrkResult(url, seconds, max(connections, threads), threads, float(match.group(1)),
                     _p99(done.stdout), _errors(done.stdout))


def _run(argv: list[str], timeout_s: float) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, start_new_session=True,
                              check=False)
    except subprocess.TimeoutExpired as exc:
        raise ServiceError(f"wrk did not finish within {timeout_s:g} s", argv[0]) from exc


def _header_script(directory: Path, headers: Mapping[str, str]) -> Path:
    script = directory / "headers.lua"
    fd = os.open(script, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        for name, value in headers.items():
            out.write(f"wrk.headers[{_lua(name)}] = {_lua(value)}\n")
    return script


def _lua(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _p99(output: str) -> float | None:
    match = _P99.search(output)
    return float(match.group(1)) * _UNIT_MS[match.group(2)] if match else None


def _errors(output: str) -> int:
    non_2xx = _NON_2XX.search(output)
    sockets = _SOCKET.search(output)
    return (int(non_2xx.group(1)) if non_2xx else 0) + (sum(map(int, sockets.groups())) if sockets else 0)
