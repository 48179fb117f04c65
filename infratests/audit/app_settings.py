"""The app's own settings against the app-side promises: the variables of ``app.promise_env`` as the
profile's ``app.env``, the team's ``.env`` files and PM2 ecosystem files set them, and the PM2
process options the shutdown and readiness claims depend on (C-GS-3 ``kill_timeout``, C-GS-5
``wait_ready``)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from infratests.audit.files import ConfigFile, Pm2App, line_of
from infratests.checks.promises import APP_PROMISE_CLAIMS, Finding, Setting
from infratests.config import Profile

__all__ = ["app_findings", "pm2_findings", "replicas_of"]

_PM2_KILL_TIMEOUT_MS = 1600  # PM2's default kill_timeout


def app_findings(profile: Profile, env: Mapping[str, Setting]) -> list[Finding]:
    """Each app-side promise whose variable is set to something else than promised."""
    found = []
    for promise, variable in profile.promise_env().items():
        setting = env.get(variable)
        promised = getattr(profile.promises, promise)
        if setting is not None and not _same(promised, setting.value):
            found.append(Finding(APP_PROMISE_CLAIMS[promise],
                                 f"promised {promise} {promised!r}; {variable}={setting.value}", setting.where))
    return found


def pm2_findings(config: ConfigFile, app: Pm2App, profile: Profile) -> list[Finding]:
    """PM2 must not SIGKILL the app before its own shutdown timeout, and must wait for its 'ready'."""
    found = []
    kill_timeout = int(app.options.get("kill_timeout", _PM2_KILL_TIMEOUT_MS))
    promised = profile.promises.kill_timeout_ms
    if kill_timeout < promised:
        said = "kill_timeout" if "kill_timeout" in app.options else f"kill_timeout not set (PM2's {kill_timeout})"
        found.append(Finding("C-GS-3", f"app {app.name}: PM2 SIGKILLs it after {kill_timeout} ms ({said}), before "
                                       f"the promised {promised} ms shutdown timeout: in-flight requests die",
                             line_of(config, "kill_timeout" if "kill_timeout" in app.options else "name")))
    if app.options.get("wait_ready") is not True:
        found.append(Finding("C-GS-5", f"app {app.name}: wait_ready is not true: PM2 counts the process online "
                                       "(and moves on in a reload) before it can serve",
                             line_of(config, "wait_ready" if "wait_ready" in app.options else "name")))
    return found


def replicas_of(config: ConfigFile, apps: list[Pm2App]) -> tuple[int, str]:
    """How many processes PM2 runs, and where that is said (``instances: 'max'`` is this machine's cores)."""
    total = 0
    for app in apps:
        instances = app.options.get("instances", 1)
        total += os.cpu_count() or 1 if instances in ("max", 0, -1, "0", "-1") else int(instances)
    return total, line_of(config, "instances")


def _same(promised: object, value: str) -> bool:
    if isinstance(promised, bool):
        return value.lower() in (("true", "yes", "1") if promised else ("false", "no", "0"))
    if isinstance(promised, int):
        try:
            return int(value) == promised
        except ValueError:
            return False
    return value.strip().lower() == str(promised).lower()
