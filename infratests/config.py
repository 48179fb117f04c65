"""The stack profile: typed, frozen, validated once; CLI beats file beats default.

Defaults are the numbers in claims.md. A profile lives in ``infratests.toml``
(top-level keys) or in ``pyproject.toml`` under ``[tool.infratests]``; each
``--infratests-set section.key=value`` overrides one key. Every error names the
key and says how to fix it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infratests.errors import ConfigError

__all__ = [
    "PostgresConfig",
    "PgBouncerConfig",
    "RedisConfig",
    "NginxConfig",
    "AppConfig",
    "FaultsConfig",
    "BinariesConfig",
    "DockerConfig",
    "BackupConfig",
    "PromisesConfig",
    "ExternalConfig",
    "APP_PROMISES",
    "REFAPP_PROMISE_ENV",
    "CAPABILITIES",
    "Profile",
]


@dataclass(frozen=True)
class PostgresConfig:
    max_connections: int = 100
    superuser_reserved_connections: int = 3
    user: str = "app"
    password: str = "app-secret"
    database: str = "app"
    settings: Mapping[str, str] = field(default_factory=dict)
    template: Path | None = None


@dataclass(frozen=True)
class PgBouncerConfig:
    pool_mode: str = "transaction"
    default_pool_size: int = 30
    max_client_conn: int = 1000
    reserve_pool_size: int = 0
    template: Path | None = None


@dataclass(frozen=True)
class RedisConfig:
    lock_nodes: int = 3
    appendonly: bool = True
    appendfsync: str = "everysec"
    maxmemory: str = "512mb"
    maxmemory_policy: str = "allkeys-lru"
    template: Path | None = None


@dataclass(frozen=True)
class NginxConfig:
    keepalive: int = 32
    rate_auth_rps: int = 10
    rate_webhook_rps: int = 50
    rate_api_rps: int = 100
    rate_api_burst: int = 200
    gzip_min_length: int = 1024
    max_fails: int = 1
    fail_timeout_s: int = 10
    template: Path | None = None


@dataclass(frozen=True)
class AppConfig:
    """The app tier; ``command`` empty means the reference service. It runs in ``cwd`` (default:
    the profile's folder) as the invoking user, or as ``run_as`` when the suite runs as root.
    ``sentry_sink`` runs a Sentry-compatible sink next to the apps and sets their ``SENTRY_DSN``."""

    command: tuple[str, ...] = ()
    replicas: int = 2
    ready_path: str = "/health"
    run_as: str = ""
    cwd: Path | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    promise_env: Mapping[str, str] = field(default_factory=dict)
    sentry_sink: bool = False
    capabilities: tuple[str, ...] = ()


#: What an app may implement (docs/app-contract.md, part 2); the reference app implements them all.
CAPABILITIES = ("health", "health_details", "health_rate_limit", "graceful_shutdown", "metrics",
                "request_ids", "error_tracking", "db", "bank", "redis_cache", "locks", "breaker",
                "static", "websocket")


@dataclass(frozen=True)
class PromisesConfig:
    """What the team promises (docs/app-contract.md, part 3), the numbers of claims.md by default.

    Scenarios judge the stack against these; the app-side ones (:data:`APP_PROMISES`) also reach
    the app through the environment, under the names of ``app.promise_env``."""

    pool_max: int = 20
    pool_min: int = 2
    acquire_timeout_ms: int = 5000
    pool_idle_timeout_ms: int = 10000
    pool_max_lifetime_s: int = 3600
    statement_timeout_ms: int = 30000
    isolation: str = "read_committed"
    breaker_threshold: int = 3
    breaker_reset_ms: int = 30000
    breaker_call_timeout_ms: int = 1000
    retry_attempts: int = 2
    drain_delay_ms: int = 5000
    kill_timeout_ms: int = 30000
    lock_ttl_ms: int = 10000
    health_rate_per_min: int = 30
    cache_ttl_s: int = 300
    # the servers' side: held against their effective configuration and what they do
    default_pool_size: int = 30
    max_client_conn: int = 1000
    rate_auth_rps: int = 10
    rate_webhook_rps: int = 50
    rate_api_rps: int = 100
    gzip_min_length: int = 1024
    upstream_keepalive: int = 32
    backup_retention: int = 30
    redis_appendonly: bool = True
    redis_appendfsync: str = "everysec"
    redis_maxmemory_policy: str = "allkeys-lru"


#: Promises an app receives (through ``app.promise_env``); the rest are the servers'.
APP_PROMISES = ("pool_max", "pool_min", "acquire_timeout_ms", "pool_idle_timeout_ms", "pool_max_lifetime_s",
                "statement_timeout_ms", "isolation", "breaker_threshold", "breaker_reset_ms",
                "breaker_call_timeout_ms", "retry_attempts", "drain_delay_ms", "kill_timeout_ms", "lock_ttl_ms",
                "health_rate_per_min", "cache_ttl_s")
#: The reference app's own variable for each app-side promise.
REFAPP_PROMISE_ENV: Mapping[str, str] = {
    "pool_max": "REFAPP_POOL_MAX", "pool_min": "REFAPP_POOL_MIN",
    "acquire_timeout_ms": "REFAPP_POOL_TIMEOUT_MS", "pool_idle_timeout_ms": "REFAPP_POOL_MAX_IDLE_MS",
    "pool_max_lifetime_s": "REFAPP_POOL_MAX_LIFETIME_S", "statement_timeout_ms": "REFAPP_STATEMENT_TIMEOUT_MS",
    "isolation": "REFAPP_ISOLATION", "breaker_threshold": "REFAPP_BREAKER_THRESHOLD",
    "breaker_reset_ms": "REFAPP_BREAKER_RESET_MS", "breaker_call_timeout_ms": "REFAPP_BREAKER_CALL_TIMEOUT_MS",
    "retry_attempts": "REFAPP_RETRY_ATTEMPTS", "drain_delay_ms": "REFAPP_DRAIN_DELAY_MS",
    "kill_timeout_ms": "REFAPP_KILL_TIMEOUT_MS", "lock_ttl_ms": "REFAPP_LOCK_TTL_MS",
    "health_rate_per_min": "REFAPP_HEALTH_RATE_PER_MIN", "cache_ttl_s": "REFAPP_CACHE_TTL",
}


@dataclass(frozen=True)
class FaultsConfig:
    """``proxy`` puts a fault proxy on every link; ``direct_links`` opts links out. ``server`` is the
    Toxiproxy server binary that runs it (relative paths start at the profile's folder; the
    environment's ``INFRATESTS_FAULTS_SERVER`` sets it for a whole run); empty: the suite's own."""

    proxy: bool = True
    direct_links: tuple[str, ...] = ()
    server: Path | None = None

    def __post_init__(self) -> None:
        server = self.server
        if server is not None and not server.is_file():
            raise ConfigError(f"faults.server = {str(server)!r}: no such file; name a Toxiproxy server binary "
                              "(toxiproxy-server) or leave it empty for the built-in proxy (profile, --set or "
                              "$INFRATESTS_FAULTS_SERVER)", "faults.server")
        if server is not None and not os.access(server, os.X_OK):
            raise ConfigError(f"faults.server = {str(server)!r} is not executable: chmod +x it", "faults.server")


@dataclass(frozen=True)
class BinariesConfig:
    """Empty means: find it (``pg_config --bindir``, PATH, /usr/sbin)."""

    postgres_bindir: Path | None = None
    pgbouncer: Path | None = None
    redis_server: Path | None = None
    nginx: Path | None = None


@dataclass(frozen=True)
class DockerConfig:
    """The container backend: ``images`` is ``official`` (registry images), ``local`` (built by
    ``infratests images build``) or ``auto`` (local when built, else official); ``image``
    overrides one kind's image, e.g. ``image.postgres = "postgres:15.6-bookworm"``. ``network`` is
    ``bridge`` (a pod per stack, ports published on 127.0.0.1), ``host`` (the host's network) or
    ``auto`` (bridge when the daemon can create a bridge network, else host). ``ryuk`` is
    testcontainers' reaper: ``on``, ``off``, or ``auto`` (on when its image can be pulled; the
    suite's janitor reaps labelled containers either way)."""

    images: str = "auto"
    network: str = "auto"
    ryuk: str = "auto"
    image: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BackupConfig:
    """Backups (C-BK): the built-in pg_dump tool, or your own shell commands.

    ``command`` takes ``{dsn}`` and ``{path}`` (the suite names the file) or ``{dir}`` (your command
    names it; ``pattern`` finds your backups); ``restore_command`` ``{dsn}`` and ``{path}``;
    ``prune_command`` ``{dir}`` and ``{keep}``; empty means the built-in way. ``verify`` checks a file
    before the built-in restore; your own restore command is judged as it is.
    """

    format: str = "custom"
    retention: int = 30
    command: str = ""
    restore_command: str = ""
    prune_command: str = ""
    verify: bool = True
    pattern: str = "backup-*"


@dataclass(frozen=True)
class ExternalConfig:
    """An environment the suite did not start (``--backend external``): pre-deploy verification.

    ``url`` is its public HTTPS base URL (``http_url`` its plain listener, for the redirect; ``ca_file``
    the CA that signs its certificate, empty: the system's). The rest is optional and enables more
    checks: ``replicas`` (the app replicas' direct URLs, as an internal caller sees them), the
    Postgres DSN (a read-only role is enough), PgBouncer's DSN and its admin console's, Redis URLs
    (cache first), ``health_secret``, and ``internal_ports``: ports that must not answer on the public
    host. Write secrets as ``${VAR}``: they come from the environment and are never printed.
    """

    url: str = ""
    http_url: str = ""
    ca_file: Path | None = None
    replicas: tuple[str, ...] = ()
    postgres_dsn: str = ""
    pgbouncer_dsn: str = ""
    pgbouncer_admin_dsn: str = ""
    redis_urls: tuple[str, ...] = ()
    health_secret: str = ""
    internal_ports: tuple[int, ...] = ()


@dataclass(frozen=True)
class Profile:
    run_as: str = "postgres"
    startup_timeout_s: float = 30.0
    postgres: PostgresConfig = field(default_factory=PostgresConfig)
    pgbouncer: PgBouncerConfig = field(default_factory=PgBouncerConfig)
    redis: RedisConfig = field(default_factory=RedisConfig)
    nginx: NginxConfig = field(default_factory=NginxConfig)
    app: AppConfig = field(default_factory=AppConfig)
    faults: FaultsConfig = field(default_factory=FaultsConfig)
    binaries: BinariesConfig = field(default_factory=BinariesConfig)
    docker: DockerConfig = field(default_factory=DockerConfig)
    backup: BackupConfig = field(default_factory=BackupConfig)
    promises: PromisesConfig = field(default_factory=PromisesConfig)
    external: ExternalConfig = field(default_factory=ExternalConfig)
    # Set by load_profile, not keys: the profile file (None: defaults only), the keys the command
    # line set, and the folder where relative paths start.
    path: Path | None = None
    overridden: tuple[str, ...] = ()
    folder: Path = field(default_factory=Path.cwd)

    def __post_init__(self) -> None:
        _check_values(self)

    @property
    def source(self) -> str:
        """Where the values come from, for messages: the file, and whether the command line changed it."""
        return (str(self.path) if self.path else "built-in defaults") + (
            " + command-line overrides" if self.overridden else "")

    def app_command(self) -> tuple[str, ...]:
        return self.app.command or (sys.executable, "-m", "infratests.refapp")

    def capabilities(self) -> tuple[str, ...]:
        """What the app implements: the profile's list, or every capability for the reference app."""
        return self.app.capabilities if self.app.command else CAPABILITIES

    def promise_env(self) -> Mapping[str, str]:
        """Promise -> the app's variable: ``app.promise_env``, or the reference app's names."""
        return self.app.promise_env if self.app.command else REFAPP_PROMISE_ENV

    def shortened(self, promises: Mapping[str, object]) -> dict[str, str]:
        """``promises.*`` overrides for the ones a scenario shortens to run in seconds: an app-side
        promise only when the app receives it (else the app would not know, and the scenario keeps
        the profile's value)."""
        return {f"promises.{key}": str(value) for key, value in promises.items()
                if key not in APP_PROMISES or key in self.promise_env()}

    def promises_for_app(self) -> dict[str, str]:
        """The app-side promises as the app's environment variables."""
        return {variable: str(getattr(self.promises, promise)) for promise, variable in self.promise_env().items()}

    def app_cwd(self) -> Path:
        """Where the app command runs: ``app.cwd``, else the profile's folder."""
        return self.app.cwd or self.folder


_CHOICES: dict[str, tuple[str, ...]] = {
    "pgbouncer.pool_mode": ("session", "transaction", "statement"),
    "redis.appendfsync": ("always", "everysec", "no"),
    "docker.images": ("auto", "local", "official"),
    "docker.network": ("auto", "bridge", "host"),
    "docker.ryuk": ("auto", "on", "off"),
    "backup.format": ("custom", "plain-gzip"),
    "promises.isolation": ("read_committed", "serializable"),
    "promises.redis_appendfsync": ("always", "everysec", "no"),
    "redis.maxmemory_policy": (
        "noeviction", "allkeys-lru", "allkeys-lfu", "allkeys-random",
        "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
    ),
}
_POSITIVE = (
    "postgres.max_connections", "pgbouncer.default_pool_size", "pgbouncer.max_client_conn",
    "redis.lock_nodes", "nginx.keepalive", "app.replicas", "promises.pool_max", "startup_timeout_s",
    "backup.retention", "promises.acquire_timeout_ms", "promises.kill_timeout_ms",
)


def _lookup(profile: Profile, key: str) -> Any:
    value: Any = profile
    for part in key.split("."):
        value = getattr(value, part)
    return value


def _check_values(profile: Profile) -> None:
    for key, choices in _CHOICES.items():
        if _lookup(profile, key) not in choices:
            raise ConfigError(f"{key} = {_lookup(profile, key)!r} ({profile.source}): "
                              f"use one of {', '.join(choices)}", key)
    for key in _POSITIVE:
        if _lookup(profile, key) <= 0:
            raise ConfigError(f"{key} = {_lookup(profile, key)!r} ({profile.source}): "
                              "must be greater than 0", key)
    if profile.promises.pool_min > profile.promises.pool_max:
        raise ConfigError(f"promises.pool_min ({profile.promises.pool_min}) > promises.pool_max "
                          f"({profile.promises.pool_max}) ({profile.source}): lower pool_min", "promises.pool_min")
    _check_app_keys(profile)
    for section in (profile.postgres, profile.pgbouncer, profile.redis, profile.nginx):
        template = section.template
        if template is not None and not template.is_file():
            raise ConfigError(f"template {template} does not exist ({profile.source}): "
                              "fix the path (relative paths start at the profile's folder)", template)


def _check_app_keys(profile: Profile) -> None:
    unknown = [name for name in profile.app.capabilities if name not in CAPABILITIES]
    if unknown:
        raise ConfigError(f"app.capabilities: unknown capability {unknown[0]!r} ({profile.source}); "
                          f"known: {', '.join(CAPABILITIES)} (docs/app-contract.md)", "app.capabilities")
    strange = [name for name in profile.app.promise_env if name not in APP_PROMISES]
    if strange:
        raise ConfigError(f"app.promise_env: {strange[0]!r} is not an app-side promise ({profile.source}); "
                          f"those are {', '.join(APP_PROMISES)}", "app.promise_env")


