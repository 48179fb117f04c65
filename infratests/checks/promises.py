"""Settings held to the team's promises: one rule per setting, shared by the scenarios that read
the running servers (``infratests.stack.effective``) and by ``infratests audit``, which reads the
team's files. Pure: a rule compares a promised value with a setting and says how it is broken.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["APP_PROMISE_CLAIMS", "Finding", "Rule", "SERVER_RULES", "Setting", "broken", "pool_math",
           "rule_for", "server_findings"]


@dataclass(frozen=True)
class Setting:
    """One value a server or app uses: the key it is compared under, the value, and where it was set."""

    key: str
    value: Any
    where: str

    def __str__(self) -> str:
        return f"{self.value!r} ({self.where})"


@dataclass(frozen=True)
class Finding:
    """A claim a setting breaks: ``where`` is ``file:line`` (or the server that reported it)."""

    claim: str
    message: str
    where: str

    def __str__(self) -> str:
        return f"{self.where}: {self.claim} violated: {self.message}"


@dataclass(frozen=True)
class Rule:
    """``key`` keeps ``promises.<promise>`` when ``kept(promised, value)``; ``wording`` says how."""

    claim: str
    promise: str
    key: str
    kept: Callable[[Any, Any], bool]
    wording: str


_DURABILITY = {"no": 0, "everysec": 1, "always": 2}


def _as_durable(promised: str, value: str) -> bool:
    return _DURABILITY.get(value, -1) >= _DURABILITY.get(promised, 0)


#: The servers' settings and the promise each is held to.
SERVER_RULES: tuple[Rule, ...] = (
    Rule("C-POOL-2", "max_client_conn", "pgbouncer.max_client_conn", operator.le, "at least"),
    Rule("C-POOL-2", "default_pool_size", "pgbouncer.default_pool_size", operator.ge, "at most"),
    Rule("C-RD-2", "redis_maxmemory_policy", "redis.maxmemory_policy", operator.eq, "exactly"),
    Rule("C-BK-5", "redis_appendonly", "redis.appendonly", lambda promised, value: value or not promised,
         "on when promised"),
    Rule("C-BK-5", "redis_appendfsync", "redis.appendfsync", _as_durable, "at least as durable as"),
    Rule("C-NGX-2", "gzip_min_length", "nginx.gzip_min_length", operator.eq, "exactly"),
    Rule("C-NGX-3", "upstream_keepalive", "nginx.keepalive", operator.le, "at least"),
    Rule("C-NGX-4", "rate_auth_rps", "nginx.rate_auth_rps", operator.ge, "at most"),
    Rule("C-NGX-4", "rate_webhook_rps", "nginx.rate_webhook_rps", operator.ge, "at most"),
    Rule("C-NGX-4", "rate_api_rps", "nginx.rate_api_rps", operator.ge, "at most"),
)

#: The claim each app-side promise stands for (what a wrong value in the app's settings breaks).
APP_PROMISE_CLAIMS: Mapping[str, str] = {
    "pool_max": "C-POOL-3", "pool_min": "C-POOL-3", "acquire_timeout_ms": "C-POOL-3",
    "pool_idle_timeout_ms": "C-POOL-3", "pool_max_lifetime_s": "C-POOL-5", "statement_timeout_ms": "C-POOL-4",
    "isolation": "C-TX-3", "breaker_threshold": "C-CB-1", "breaker_reset_ms": "C-CB-3",
    "breaker_call_timeout_ms": "C-CB-1", "retry_attempts": "C-CB-5", "drain_delay_ms": "C-GS-2",
    "kill_timeout_ms": "C-GS-3", "lock_ttl_ms": "C-LOCK-2", "health_rate_per_min": "C-HL-4",
    "cache_ttl_s": "C-RD-3",
}


def rule_for(key: str) -> Rule:
    """The rule for setting ``key`` (a ``KeyError`` names a key no promise covers)."""
    return next(rule for rule in SERVER_RULES if rule.key == key)


def broken(rule: Rule, promised: Any, setting: Setting | None, label: str = "set to") -> str | None:
    """None when ``setting`` keeps the promise (or was not read), else what was promised and what is set
    (``label`` introduces the setting's value and where it was set: ``set to``, or the configured and
    effective values; an empty one leaves both out, for a finding that names the place itself)."""
    if setting is None or rule.kept(promised, setting.value):
        return None
    said = f"; {label} {setting}" if label else f"; set to {setting.value!r}"
    return f"promised {rule.promise} {promised!r} ({rule.wording}){said}"


def server_findings(promises: Any, settings: Mapping[str, Setting],
                    claims: Iterable[str] | None = None) -> list[Finding]:
    """Each server setting in ``settings`` that breaks its promise (of ``claims``, or every claim)."""
    wanted = set(claims) if claims is not None else None
    found = []
    for rule in SERVER_RULES:
        setting = settings.get(rule.key)
        message = broken(rule, getattr(promises, rule.promise), setting, label="")
        if setting is not None and message and (wanted is None or rule.claim in wanted):
            found.append(Finding(rule.claim, message, setting.where))
    return found


def pool_math(settings: Mapping[str, Setting], replicas: int, pool_max: int, pool_max_where: str) -> list[Finding]:
    """C-POOL-1 from whichever settings are known: PgBouncer's server pool (default_pool_size +
    reserve_pool_size) fits Postgres' max_connections less superuser_reserved_connections, and
    ``replicas`` x ``pool_max`` app connections fit PgBouncer's max_client_conn; C-POOL-2: in
    session pooling, which pins a server connection to each client, they fit its server pool too."""
    value = {key: setting.value for key, setting in settings.items()}
    found = []
    server_side = value.get("pgbouncer.default_pool_size", 0) + value.get("pgbouncer.reserve_pool_size", 0)
    app_side = replicas * pool_max
    if "postgres.max_connections" in value and "pgbouncer.default_pool_size" in value:
        budget = value["postgres.max_connections"] - value.get("postgres.superuser_reserved_connections", 3)
        if server_side > budget:
            where = settings["pgbouncer.default_pool_size"].where
            found.append(Finding("C-POOL-1", f"PgBouncer may open {server_side} server connections "
                                             f"(default_pool_size + reserve_pool_size, {where}); Postgres allows "
                                             f"{budget} (max_connections {settings['postgres.max_connections']} "
                                             "less the superuser-reserved ones)", where))
    if "pgbouncer.max_client_conn" in value and app_side > value["pgbouncer.max_client_conn"]:
        found.append(Finding("C-POOL-1", f"{replicas} app processes x pool_max {pool_max} ({pool_max_where}) = "
                                         f"{app_side} > PgBouncer max_client_conn "
                                         f"{settings['pgbouncer.max_client_conn']}", pool_max_where))
    if value.get("pgbouncer.pool_mode") == "session" and "pgbouncer.default_pool_size" in value \
            and app_side > server_side:
        found.append(Finding("C-POOL-2", f"pool_mode=session ({settings['pgbouncer.pool_mode'].where}) pins a "
                                         f"server connection per app connection: {app_side} app connections > "
                                         f"{server_side} server connections", settings["pgbouncer.pool_mode"].where))
    return found
