"""On Docker the machine running the suite needs no server packages: the smoke scenarios pass in a
mount namespace where Postgres, PgBouncer, Redis and nginx are hidden, with an empty template cache
(so initdb runs in the Postgres image)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.mutants.mutant import ROOT

_SERVERS = ("/usr/lib/postgresql", "/usr/sbin/pgbouncer", "/usr/bin/redis-server", "/usr/sbin/nginx")


def test_smoke_scenarios_pass_with_the_servers_hidden(local_plan: object, tmp_path: Path) -> None:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("hiding the server packages needs root and unshare (util-linux)")
    present = [path for path in _SERVERS if Path(path).exists()]
    empty = tmp_path / "empty"
    empty.mkdir()
    hide = " && ".join(f"mount --bind {empty if Path(p).is_dir() else '/dev/null'} {p}" for p in present)
    check = " && ".join(f"! test -x {p}/15/bin/postgres" if Path(p).is_dir() else f"! test -x {p}"
                        for p in present)
    pytest_argv = [sys.executable, "-m", "pytest", "scenarios/test_smoke.py", "-m", "gate", "-q",
                   "-p", "no:cacheprovider", "--infratests-backend", "docker",
                   "--infratests-set", "docker.images=local"]
    script = f"{hide or 'true'} && {check or 'true'} && exec \"$@\""
    done = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
                           *pytest_argv], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "INFRATESTS_CACHE": str(tmp_path / "cache")})
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"smoke scenarios failed without server packages:\n{output[-3000:]}"
    assert "2 passed" in output, output[-2000:]
    assert list((tmp_path / "cache").glob("pgdata-*")), "the Postgres template was not built in the image"
