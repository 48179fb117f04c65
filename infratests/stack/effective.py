"""The configuration the running servers actually use, read from the servers themselves.

A profile says what the servers should run with; a template (the team's own,
or ours with a line changed) may say otherwise. Checks that compare with a
configured number read it here: Postgres ``pg_settings``, PgBouncer's
``SHOW CONFIG``, Redis ``CONFIG GET``, and nginx's configuration as nginx
loads it (parsed with crossplane). Each value says where it was set: the
configuration file and line, as the server reports it or as found in the
file the server was started with.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infratests.checks.promises import Setting, broken, rule_for
from infratests.config import Profile
from infratests.errors import UnsupportedOperation

if TYPE_CHECKING:
    from infratests.stack.nginx_config import NginxConfig
    from infratests.stack.topology import Stack

__all__ = ["broken_promise", "configured", "differences", "effective_value", "nginx_config",
           "read_effective", "redis_bytes"]


def read_effective(stack: Stack) -> dict[str, Setting]:
    """Every setting the suite compares, as the running servers use them, by profile key (what an
    environment lets the suite read: a server it cannot ask is left out)."""
    from infratests.stack.redis import CACHE_NODE

    found: dict[str, Setting] = {}
    for reader, service in ((_postgres, "postgres"), (_pgbouncer, "pgbouncer"), (_redis, CACHE_NODE),
                            (_nginx, "nginx")):
        if service in stack.services:
            try:
                found.update({setting.key: setting for setting in reader(stack)})
            except UnsupportedOperation:
                continue
    return found


def effective_value(stack: Stack, key: str) -> Any:
    """The value the running server uses for profile ``key``; the profile's where it cannot be read."""
    found = read_effective(stack).get(key)
    return found.value if found else configured(stack.profile, key)


def configured(profile: Profile, key: str) -> Any:
    """The profile's value for ``key``, in the unit the effective value is read in."""
    value: Any = profile
    for part in key.split("."):
        value = getattr(value, part)
    return redis_bytes(value) if key == "redis.maxmemory" else value


def differences(stack: Stack, effective: Mapping[str, Setting] | None = None) -> list[str]:
    """One line per setting whose effective value is not the profile's, naming where it was set."""
    effective = effective if effective is not None else read_effective(stack)
    return [f"{key}: profile {configured(stack.profile, key)!r}, effective {setting}"
            for key, setting in sorted(effective.items()) if setting.value != configured(stack.profile, key)]


def broken_promise(stack: Stack, key: str, effective: Mapping[str, Setting] | None = None) -> str | None:
    """None when the running server keeps the promise its setting ``key`` is held to
    (:data:`~infratests.checks.promises.SERVER_RULES`), else the promise, the profile's value and the
    effective one with where it was set, side by side."""
    rule = rule_for(key)
    setting = (effective if effective is not None else read_effective(stack)).get(key)
    return broken(rule, getattr(stack.profile.promises, rule.promise), setting,
                  f"configured {configured(stack.profile, key)!r} ({key}), effective")


def redis_bytes(size: str | int) -> int:
    """A Redis memory size (``512mb``, ``1g``, ``100``) in bytes, as ``CONFIG GET`` reports it."""
    text = str(size).strip().lower()
    number, unit = re.fullmatch(r"(\d+)\s*([a-z]*)", text).groups()  # type: ignore[union-attr]
    scale = {"": 1, "b": 1, "k": 1000, "kb": 1024, "m": 1000**2, "mb": 1024**2, "g": 1000**3, "gb": 1024**3}
    return int(number) * scale[unit]


def _line_in(path: Path | None, pattern: str) -> str:
    """``name line N`` of the first line of the server's config file matching ``pattern``."""
    if path is None or not path.is_file():
        return "as the server reports it"
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if re.match(pattern, line.strip()):
            return f"{path.name} line {number}"
    return f"{path.name}: not set there (the server's default)"


def _config_file(stack: Stack, service: str, name: str) -> Path | None:
    workdir = getattr(stack[service], "workdir", None)
    return Path(workdir) / name if workdir is not None else None


def _postgres(stack: Stack) -> list[Setting]:
    import psycopg

    names = {"max_connections": "postgres.max_connections",
             "superuser_reserved_connections": "postgres.superuser_reserved_connections"}
    with psycopg.connect(stack.admin_dsn, autocommit=True, connect_timeout=5) as conn:
        rows = conn.execute("SELECT name, setting, sourcefile, sourceline FROM pg_settings WHERE name = ANY(%s)",
                            (list(names),)).fetchall()
    return [Setting(names[name], int(value), f"{Path(file).name} line {line}" if file else "the server's default")
            for name, value, file, line in rows]


def _pgbouncer(stack: Stack) -> list[Setting]:
    from infratests.stack.pgbouncer import show

    ini = _config_file(stack, "pgbouncer", "pgbouncer.ini")
    config = {row["key"]: row["value"] for row in show(stack["pgbouncer"].endpoint, "CONFIG")}
    kinds: dict[str, Callable[[str], Any]] = {"pool_mode": str, "default_pool_size": int,
                                              "max_client_conn": int, "reserve_pool_size": int}
    return [Setting(f"pgbouncer.{name}", kind(config[name]), _line_in(ini, rf"{name}\s*="))
            for name, kind in kinds.items() if name in config]


def _redis(stack: Stack) -> list[Setting]:
    import redis

    from infratests.stack.redis import CACHE_NODE

    conf = _config_file(stack, CACHE_NODE, "redis.conf")
    node = redis.Redis.from_url(stack[CACHE_NODE].endpoint.url, socket_timeout=5.0, decode_responses=True)
    try:
        values: dict[str, str] = {}
        for name in ("appendonly", "appendfsync", "maxmemory", "maxmemory-policy"):
            values.update(node.config_get(name))  # type: ignore[arg-type]  # sync client: a dict
    except redis.ResponseError as refused:  # CONFIG renamed or denied on a managed Redis
        raise UnsupportedOperation(f"Redis refuses CONFIG GET: {refused}", CACHE_NODE) from None
    finally:
        node.close()
    return [Setting("redis.appendonly", values["appendonly"] == "yes", _line_in(conf, r"appendonly\b")),
            Setting("redis.appendfsync", values["appendfsync"], _line_in(conf, r"appendfsync\b")),
            Setting("redis.maxmemory", int(values["maxmemory"]), _line_in(conf, r"maxmemory\s")),
            Setting("redis.maxmemory_policy", values["maxmemory-policy"], _line_in(conf, r"maxmemory-policy\b"))]


def nginx_config(stack: Stack) -> NginxConfig | None:
    """The configuration the stack's nginx was started with (None when the suite cannot read it)."""
    from infratests.stack.nginx_config import NginxConfig

    conf = _config_file(stack, "nginx", "nginx.conf")
    return NginxConfig.load(conf) if conf is not None and conf.is_file() else None


def _nginx(stack: Stack) -> list[Setting]:
    config = nginx_config(stack)
    return [Setting(key, value, directive.where) for key, value, directive in config.settings()] if config else []
