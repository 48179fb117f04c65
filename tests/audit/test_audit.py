"""``infratests audit``: the suite's own rendered configuration passes; each broken variant of the
mutant catalog that a file can show is flagged with its claim and ``file:line``; the app's settings
(.env, PM2 ecosystem) are held to the app-side promises; bad input exits 2 in one line."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from infratests.audit import audit
from infratests.profile_file import load_profile
from tests.mutants.catalog import all_mutants
from tests.mutants.mutant import ROOT, Mutant

from .conftest import Render

NODE_APP = ROOT / "examples" / "node-express"
# What a file can show; the rest (routing around a dead replica, static caching, the app's code) only a
# running stack does.
AUDITED = {"C-NGX-1", "C-NGX-2", "C-NGX-3", "C-NGX-4", "C-NGX-5", "C-POOL-1", "C-POOL-2", "C-RD-2", "C-BK-5"}
_FILE_KEYS = ("nginx.", "pgbouncer.", "postgres.", "redis.")


def _file_mutants() -> list[Mutant]:
    return [m for m in all_mutants() if m.claim in AUDITED and m.overrides and not m.env
            and all(key.startswith(_FILE_KEYS) for key in m.overrides)]


def _cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "infratests.cli", "audit", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=60)


def test_the_suites_own_rendered_configuration_passes(render: Render) -> None:
    folder = render({})
    report = audit([str(folder)], load_profile(), None)
    assert sorted(f.kind for f in report.files) == ["nginx", "pgbouncer", "postgres", "redis"]
    assert report.findings == [] and report.exit_code == 0


@pytest.mark.parametrize("mutant", _file_mutants(), ids=str)
def test_each_broken_config_is_flagged_with_its_claim(render: Render, mutant: Mutant) -> None:
    folder = render(mutant.overrides)
    report = audit([str(folder)], load_profile(), None)
    claims = {finding.claim for finding in report.findings}
    assert mutant.claim in claims, f"{mutant}: {[str(f) for f in report.findings]}"
    place = rf"{re.escape(str(folder))}/[\w.]+(:\d+| \(not set: the default\))?"
    for finding in report.findings:
        assert re.fullmatch(place, finding.where), finding


def test_a_location_with_its_own_add_header_loses_the_servers_security_headers(render: Render) -> None:
    folder = render({})
    conf = folder / "nginx.conf"
    conf.write_text(conf.read_text().replace("location /health {",
                                             "location /health {\n            add_header X-Served-By app;"))
    findings = audit([str(conf)], load_profile(), None).findings
    assert [f.claim for f in findings] == ["C-NGX-5"]
    assert "location /health sends no strict-transport-security" in findings[0].message
    assert "replaces the server's" in findings[0].message


@pytest.mark.skipif(shutil.which("node") is None, reason="node evaluates PM2 ecosystem files")
def test_the_apps_settings_are_held_to_the_app_side_promises(tmp_path: Path) -> None:
    """A .env that raises the pool, and a PM2 file that kills before the drain ends and never waits for
    'ready': the Node example's real files, broken the way teams break them."""
    ecosystem = tmp_path / "ecosystem.config.js"
    ecosystem.write_text((NODE_APP / "ecosystem.config.js").read_text()
                         .replace("kill_timeout: killTimeoutMs + 2000", "kill_timeout: 5000")
                         .replace("wait_ready: true", "wait_ready: false")
                         .replace("cwd: __dirname", f"cwd: {json.dumps(str(NODE_APP))}"))
    dotenv = tmp_path / ".env"
    dotenv.write_text("# production\nNODE_ENV=production\nPOSTGRES_POOL_MAX=50\nPOSTGRES_STATEMENT_TIMEOUT_MS='0'\n")
    profile_path = NODE_APP / "infratests.toml"
    report = audit([str(ecosystem), str(dotenv)], load_profile(profile_path), profile_path)
    found = {(f.claim, f.where.rsplit("/", 1)[-1]) for f in report.findings}
    assert ("C-POOL-3", ".env:3") in found and ("C-POOL-4", ".env:4") in found
    assert {claim for claim, _ in found} >= {"C-GS-3", "C-GS-5"}
    assert report.exit_code == 1
    clean = audit([str(NODE_APP / "ecosystem.config.js")], load_profile(profile_path), profile_path)
    assert clean.findings == []


def test_pool_math_across_the_files(tmp_path: Path) -> None:
    """C-POOL-1 from postgresql.conf and pgbouncer.ini together, the files' own defaults filling gaps."""
    (tmp_path / "postgresql.conf").write_text("shared_buffers = 128MB\nmax_connections = 25   # small box\n")
    (tmp_path / "pgbouncer.ini").write_text("[databases]\n* = host=127.0.0.1\n[pgbouncer]\n"
                                            "pool_mode = transaction\ndefault_pool_size = 30\n"
                                            "max_client_conn = 1000\n")
    findings = audit([str(tmp_path)], load_profile(), None).findings
    assert [(f.claim, f.where.rsplit("/", 1)[-1]) for f in findings] == [("C-POOL-1", "pgbouncer.ini:5")]
    assert "Postgres allows 22" in findings[0].message


def test_cli_exit_codes_and_json(render: Render, tmp_path: Path) -> None:
    good = render({})
    assert _cli(str(good)).returncode == 0
    bad = render({"redis.appendonly": "false"})
    done = _cli(str(bad / "redis.conf"), "--json")
    report = json.loads(done.stdout)
    assert done.returncode == 1 and not report["passed"]
    assert [f["claim"] for f in report["findings"]] == ["C-BK-5"]
    assert report["findings"][0]["where"].endswith("redis.conf:9")
    lines = _cli(str(bad / "redis.conf")).stdout.splitlines()
    assert lines == [f"{bad}/redis.conf:9: C-BK-5 violated: promised redis_appendonly True (on when promised); "
                     "set to False"]


@pytest.mark.parametrize("args, says", [
    (["missing.conf"], "audit: missing.conf does not exist"),
    (["pyproject.toml"], "audit: cannot tell what pyproject.toml configures"),
    (["nginx=README.md"], "README.md line"),
])
def test_bad_input_exits_2_in_one_line(args: list[str], says: str) -> None:
    done = _cli(*args)
    assert done.returncode == 2 and done.stdout == ""
    assert says in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_an_include_that_is_not_here_is_skipped_and_named(render: Render) -> None:
    """``include /etc/nginx/mime.types`` on a CI runner without nginx: audited all the same."""
    conf = render({}) / "nginx.conf"
    conf.write_text(conf.read_text().replace("http {", "http {\n    include /etc/nginx-absent/mime.types;", 1))
    report = audit([str(conf)], load_profile(), None)
    assert report.findings == [] and report.skipped == [f"{conf} line 12: '/etc/nginx-absent/mime.types'"]
