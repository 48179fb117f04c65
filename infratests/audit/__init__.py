"""``infratests audit``: a team's real configuration files held to its promises, statically.

Nothing is started: nginx's configuration (with its includes) is parsed by crossplane,
``pgbouncer.ini``, ``redis.conf`` and ``postgresql.conf`` are read as their servers read them
(a setting left out has the server's default), the app's settings come from the profile's
``app.env``, ``.env`` files and PM2 ecosystem files. Each finding names the claim it breaks and
the ``file:line`` that sets (or should set) the value. The rules are the ones the scenarios hold
the running servers to (:mod:`infratests.checks.promises`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infratests.audit.app_settings import app_findings, pm2_findings, replicas_of
from infratests.audit.files import ConfigFile, discover, line_of, read_dotenv, read_pm2, read_settings, shown
from infratests.audit.nginx_rules import nginx_findings
from infratests.checks.promises import Finding, Setting, pool_math, server_findings
from infratests.config import Profile

__all__ = ["AuditReport", "audit"]


@dataclass
class AuditReport:
    """What was read and what it breaks; exit status 0 when nothing does, 1 otherwise."""

    files: list[ConfigFile]
    findings: list[Finding] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # includes that name no file here

    @property
    def exit_code(self) -> int:
        return 1 if self.findings else 0

    def as_json(self) -> dict[str, Any]:
        return {"passed": not self.findings,
                "files": [{"path": f.shown, "kind": f.kind} for f in self.files],
                "findings": [{"claim": f.claim, "where": f.where, "message": f.message} for f in self.findings],
                "skipped_includes": self.skipped}


def audit(targets: Sequence[str], profile: Profile, profile_path: Path | None, pm2_env: str = "production"
          ) -> AuditReport:
    """Audit the files ``targets`` name (files, ``KIND=file``, folders) and the profile's app settings."""
    from infratests.stack.nginx_config import NginxConfig

    files = [found for target in targets for found in discover(target)]
    report = AuditReport(files)
    servers: dict[str, Setting] = {}
    env: dict[str, Setting] = _profile_env(profile, profile_path)
    named = shown(profile_path) if profile_path else "the default profile"
    replicas, replicas_where = profile.app.replicas, f"{named}: app.replicas"
    for config in files:
        if config.kind == "nginx":
            parsed = NginxConfig.load(config.path)
            report.skipped += parsed.missing
            report.findings += nginx_findings(parsed, profile.promises,
                                              lambda d: f"{shown(Path(d.file))}:{d.line}",
                                              config.shown)
        elif config.kind == "dotenv":
            env.update(read_dotenv(config))
        elif config.kind == "pm2":
            apps = read_pm2(config, pm2_env)
            for app in apps:
                env.update({name: Setting(name, value, line_of(config, name)) for name, value in app.env.items()})
                report.findings += pm2_findings(config, app, profile)
            replicas, replicas_where = replicas_of(config, apps)
        else:
            own = {setting.key: setting for setting in read_settings(config)}
            report.findings += server_findings(profile.promises, own)
            servers.update(own)
    report.findings += app_findings(profile, env)
    pool_variable = profile.promise_env().get("pool_max", "")
    pool = env.get(pool_variable)
    pool_max = int(pool.value) if pool is not None and pool.value.isdigit() else profile.promises.pool_max
    pool_where = pool.where if pool is not None else f"{named}: promises.pool_max"
    report.findings += pool_math(servers, replicas, pool_max, f"{pool_where}; {replicas} from {replicas_where}")
    return report


def _profile_env(profile: Profile, path: Path | None) -> dict[str, Setting]:
    """The profile's ``app.env``, each variable at its line of the profile file."""
    if path is None or not path.is_file():
        return {name: Setting(name, str(value), "--set app.env") for name, value in profile.app.env.items()}
    profile_file = ConfigFile(path, "profile")
    return {name: Setting(name, str(value), line_of(profile_file, name)) for name, value in profile.app.env.items()}
