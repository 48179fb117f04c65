"""Locust stays out of the pytest process, and every built-in locustfile loads under Locust."""

from __future__ import annotations

import subprocess
import sys

from infratests.resources import locustfiles_dir


def test_importing_the_load_package_does_not_import_locust_or_gevent() -> None:
    code = ("import sys, infratests.load, infratests.load.capacity, infratests.load.bench, "
            "infratests.load.commands; print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('locust', 'gevent', 'matplotlib')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         timeout=60).stdout
    assert out.strip() == "[]"


def test_builtin_locustfiles_load_and_list_their_users() -> None:
    files = sorted(p for p in locustfiles_dir().glob("[!_]*.py"))
    done = subprocess.run([sys.executable, "-m", "locust", "-f", ",".join(map(str, files)), "--list"],
                          capture_output=True, text=True, timeout=120, cwd=locustfiles_dir(), check=False,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(locustfiles_dir())},
                          start_new_session=True)
    assert done.returncode == 0, done.stderr[-2000:]
    for user in ("ApiUser", "HealthUser", "SlowUser", "TransferUser", "JobUser", "FixedGetUser"):
        assert user in done.stdout
