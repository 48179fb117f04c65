"""The machine a load run ran on, for its report: cores, load, memory, versions (never the environment's
variables: they may hold secrets)."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from importlib import metadata
from typing import Any

__all__ = ["machine_facts", "usable_cores"]


def usable_cores() -> int:
    """CPUs this process may run on (its affinity), at least 1."""
    return max(1, len(os.sched_getaffinity(0)))


def machine_facts() -> dict[str, Any]:
    """What a reader needs to weigh the figures: cores, load average now, memory, software versions."""
    return {"host": platform.node(), "kernel": platform.release(), "cpus": os.cpu_count(),
            "usable_cpus": usable_cores(), "cpu_model": _cpu_model(), "memory_gib": _memory_gib(),
            "load_average": [round(value, 2) for value in os.getloadavg()],
            "python": platform.python_version(), "locust": _version("locust"),
            "infratests": _version("infratests"), "wrk": _wrk_version(), "executable": sys.executable}


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            models = [line.split(":", 1)[1].strip() for line in info if line.startswith("model name")]
    except OSError:
        return None
    return models[0] if models else None


def _memory_gib() -> float | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError):
        return None


def _wrk_version() -> str | None:
    binary = shutil.which("wrk")
    if binary is None:
        return None
    done = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10, check=False)
    first = (done.stdout or done.stderr).strip().splitlines()
    return first[0].split(" [")[0] if first else None
