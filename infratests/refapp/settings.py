"""The app contract's environment, parsed once into a frozen :class:`Settings`.

Every ``REFAPP_*`` knob defaults to the numbers in claims.md and the correct
behaviour; each mutant knob switches exactly one behaviour off (docs/app-contract.md).
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from infratests.errors import ConfigError

__all__ = ["Settings", "SettingsError", "load_settings"]

_ISOLATIONS = ("read_committed", "serializable")
_TRUE = {"1", "on", "true", "yes"}
_FALSE = {"0", "off", "false", "no", ""}


class SettingsError(ConfigError):
    """An app environment variable is invalid; ``subject`` is the variable name."""


def _env(name: str, default: Any, parse: str = "") -> Any:
    return field(default=default, metadata={"env": name, "parse": parse})


@dataclass(frozen=True)
class Settings:
    """All app settings; field metadata names the environment variable."""

    host: str = _env("HOST", "127.0.0.1")
    port: int = _env("PORT", 8000, "port")
    instance: str = _env("INSTANCE", "app")
    database_url: str = _env("DATABASE_URL", "")
    redis_url: str = _env("REDIS_URL", "")
    redis_lock_urls: tuple[str, ...] = _env("REDIS_LOCK_URLS", (), "list")
    dependency_url: str = _env("DEPENDENCY_URL", "")
    health_secret: str = field(default="", repr=False, metadata={"env": "HEALTH_SECRET", "parse": ""})
    internal_peers: tuple[str, ...] = _env("INTERNAL_PEERS", (), "networks")
    sentry_dsn: str = field(default="", repr=False, metadata={"env": "SENTRY_DSN", "parse": ""})
    cache_prefix: str = _env("CACHE_PREFIX", "refapp:")
    app_version: str = _env("APP_VERSION", "0.0.0")
    pool_min: int = _env("REFAPP_POOL_MIN", 2, "count")
    pool_max: int = _env("REFAPP_POOL_MAX", 20, "positive")
    pool_timeout_ms: int = _env("REFAPP_POOL_TIMEOUT_MS", 5000, "positive")
    pool_max_idle_ms: int = _env("REFAPP_POOL_MAX_IDLE_MS", 10000, "positive")
    pool_max_lifetime_s: int = _env("REFAPP_POOL_MAX_LIFETIME_S", 3600, "positive")
    pool_open_timeout_ms: int = _env("REFAPP_POOL_OPEN_TIMEOUT_MS", 10000, "positive")
    pool_warn_ratio: float = _env("REFAPP_POOL_WARN_RATIO", 0.8, "ratio")
    pool_check: bool = _env("REFAPP_POOL_CHECK", True, "bool")
    statement_timeout_ms: int = _env("REFAPP_STATEMENT_TIMEOUT_MS", 30000, "count")
    session_set: bool = _env("REFAPP_SESSION_SET", False, "bool")
    ready_timeout_ms: int = _env("REFAPP_READY_TIMEOUT_MS", 1000, "positive")
    isolation: str = _env("REFAPP_ISOLATION", "read_committed", "isolation")
    tx_retries: int = _env("REFAPP_TX_RETRIES", 10, "count")
    transfer_tx: bool = _env("REFAPP_TRANSFER_TX", True, "bool")
    breaker_threshold: int = _env("REFAPP_BREAKER_THRESHOLD", 3, "threshold")
    breaker_reset_ms: int = _env("REFAPP_BREAKER_RESET_MS", 30000, "positive")
    breaker_call_timeout_ms: int = _env("REFAPP_BREAKER_CALL_TIMEOUT_MS", 1000, "positive")
    retry_attempts: int = _env("REFAPP_RETRY_ATTEMPTS", 2, "positive")
    retry_base_ms: int = _env("REFAPP_RETRY_BASE_MS", 50, "count")
    retry_max_ms: int = _env("REFAPP_RETRY_MAX_MS", 1000, "count")
    drain: bool = _env("REFAPP_DRAIN", True, "bool")
    drain_delay_ms: int = _env("REFAPP_DRAIN_DELAY_MS", 5000, "count")
    kill_timeout_ms: int = _env("REFAPP_KILL_TIMEOUT_MS", 30000, "positive")
    force_exit: bool = _env("REFAPP_FORCE_EXIT", True, "bool")
    hang_on_drain: bool = _env("REFAPP_HANG_ON_DRAIN", False, "bool")
    ready_early: bool = _env("REFAPP_READY_EARLY", False, "bool")
    lock_ttl_ms: int = _env("REFAPP_LOCK_TTL_MS", 10000, "count")
    lock_extend: bool = _env("REFAPP_LOCK_EXTEND", True, "bool")
    lock_drift_factor: float = _env("REFAPP_LOCK_DRIFT_FACTOR", 0.01, "ratio")
    lock_node_timeout_ms: int = _env("REFAPP_LOCK_NODE_TIMEOUT_MS", 200, "positive")
    lock_quorum: int = _env("REFAPP_LOCK_QUORUM", 0, "count")  # 0: a majority (mutant: 1)
    lock_owner_check: bool = _env("REFAPP_LOCK_OWNER_CHECK", True, "bool")
    fencing: bool = _env("REFAPP_FENCING", True, "bool")
    cache_ttl_s: int = _env("REFAPP_CACHE_TTL", 300, "count")
    cache_prefix_off: bool = _env("REFAPP_CACHE_PREFIX_OFF", False, "bool")
    leak_health_details: bool = _env("REFAPP_LEAK_HEALTH_DETAILS", False, "bool")
    ready_checks: bool = _env("REFAPP_READY_CHECKS", True, "bool")
    deep_liveness: bool = _env("REFAPP_DEEP_LIVENESS", False, "bool")
    health_rate_per_min: int = _env("REFAPP_HEALTH_RATE_PER_MIN", 30, "count")
    request_id: bool = _env("REFAPP_REQUEST_ID", True, "bool")
    log_level: str = _env("REFAPP_LOG_LEVEL", "info", "level")

    @property
    def effective_cache_prefix(self) -> str:
        """The prefix every cache key gets ("" when the C-RD-1 mutant knob is on)."""
        return "" if self.cache_prefix_off else self.cache_prefix


def _parse_int(raw: str) -> int:
    return int(raw.strip())


def _parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError("expected on/off")


def _parse_threshold(raw: str) -> int:
    if raw.strip().lower() in ("never", "off"):
        return 0
    return _nonneg(_parse_int(raw))


def _nonneg(value: int) -> int:
    if value < 0:
        raise ValueError("must be >= 0")
    return value


def _positive(value: int) -> int:
    if value <= 0:
        raise ValueError("must be > 0")
    return value


def _ratio(raw: str) -> float:
    value = float(raw)
    if not 0.0 <= value <= 1.0:
        raise ValueError("must be between 0 and 1")
    return value


def _choice(options: tuple[str, ...]) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in options:
            raise ValueError(f"expected one of {', '.join(options)}")
        return value

    return parse


def _port(raw: str) -> int:
    value = _parse_int(raw)
    if not 0 < value < 65536:
        raise ValueError("must be a TCP port 1..65535")
    return value


def _list(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _networks(raw: str) -> tuple[str, ...]:
    """Comma-separated addresses or CIDR networks, each checked."""
    for net in _list(raw):
        ipaddress.ip_network(net)  # ValueError names the bad one
    return _list(raw)


_PARSERS: dict[str, Callable[[str], Any]] = {
    "": str,
    "port": _port,
    "list": _list,
    "networks": _networks,
    "bool": _parse_bool,
    "count": lambda raw: _nonneg(_parse_int(raw)),
    "positive": lambda raw: _positive(_parse_int(raw)),
    "ratio": _ratio,
    "threshold": _parse_threshold,
    "isolation": _choice(_ISOLATIONS),
    "level": _choice(("debug", "info", "warning", "error")),
}


def load_settings(environ: Mapping[str, str]) -> Settings:
    """Build :class:`Settings` from ``environ``; raise :class:`SettingsError` naming a bad variable."""
    values: dict[str, Any] = {}
    for spec in dataclasses.fields(Settings):
        name = spec.metadata["env"]
        if name not in environ:
            continue
        try:
            values[spec.name] = _PARSERS[spec.metadata["parse"]](environ[name])
        except ValueError as exc:
            raise SettingsError(f"{name}={environ[name]!r} is invalid: {exc}", subject=name) from exc
    settings = Settings(**values)
    _check_consistency(settings)
    return settings


def _check_consistency(settings: Settings) -> None:
    if settings.pool_min > settings.pool_max:
        raise SettingsError(
            f"REFAPP_POOL_MIN={settings.pool_min} exceeds REFAPP_POOL_MAX={settings.pool_max}",
            subject="REFAPP_POOL_MIN",
        )
    if settings.retry_base_ms > settings.retry_max_ms:
        raise SettingsError(
            f"REFAPP_RETRY_BASE_MS={settings.retry_base_ms} exceeds REFAPP_RETRY_MAX_MS",
            subject="REFAPP_RETRY_BASE_MS",
        )
