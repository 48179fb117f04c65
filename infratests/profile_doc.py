"""One line of explanation per profile key, and the commented profile ``infratests init`` writes.

:func:`commented_profile` walks the :class:`~infratests.config.Profile`
dataclasses, so every key appears at its real default; ``KEY_DOCS`` says what
each one means (a test keeps the two in step).
"""

from __future__ import annotations

import dataclasses
import json
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from infratests.config import Profile

__all__ = ["KEY_DOCS", "commented_profile", "profile_keys"]

KEY_DOCS: dict[str, str] = {
    "run_as": "the unprivileged user the servers run as when the suite runs as root (Postgres refuses root)",
    "startup_timeout_s": "seconds each service may take to become ready",
    "postgres.max_connections": "Postgres max_connections (C-POOL-1)",
    "postgres.superuser_reserved_connections": "connections kept for superusers (C-POOL-1)",
    "postgres.user": "the app's database role (created in the stack's database)",
    "postgres.password": "its password (masked in every message)",
    "postgres.database": "the app's database",
    "postgres.settings": "extra postgresql.conf lines, e.g. { work_mem = \"8MB\" }",
    "postgres.template": "your own postgresql.conf template (docs/templates.md); empty: the built-in one",
    "pgbouncer.pool_mode": "session, transaction or statement (C-TX-4)",
    "pgbouncer.default_pool_size": "server connections per database/user pair (C-POOL-2)",
    "pgbouncer.max_client_conn": "client connections PgBouncer accepts (C-POOL-2)",
    "pgbouncer.reserve_pool_size": "extra server connections under load (C-POOL-1)",
    "pgbouncer.template": "your own pgbouncer.ini template; empty: the built-in one",
    "redis.lock_nodes": "independent Redis nodes for Redlock (C-LOCK-1..5)",
    "redis.appendonly": "append-only persistence (C-BK-5)",
    "redis.appendfsync": "always, everysec or no (C-BK-5)",
    "redis.maxmemory": "the cache node's memory limit (C-RD-2)",
    "redis.maxmemory_policy": "what Redis does at the limit (C-RD-2)",
    "redis.template": "your own redis.conf template; empty: the built-in one",
    "nginx.keepalive": "idle upstream connections nginx keeps (C-NGX-3)",
    "nginx.rate_auth_rps": "rate of the auth zone, requests/s per client (C-NGX-4)",
    "nginx.rate_webhook_rps": "rate of the webhook zone (C-NGX-4)",
    "nginx.rate_api_rps": "rate of the api zone (C-NGX-4)",
    "nginx.rate_api_burst": "burst of the api zone (C-NGX-4)",
    "nginx.gzip_min_length": "smallest body nginx compresses, bytes (C-NGX-2)",
    "nginx.max_fails": "failed attempts before an upstream is taken out (C-NGX-6)",
    "nginx.fail_timeout_s": "how long a failed upstream stays out (C-NGX-6, C-GS-4)",
    "nginx.template": "your own nginx.conf template; empty: the built-in one",
    "app.command": "your app's command, e.g. [\"node\", \"server.js\"]; empty: the reference app",
    "app.replicas": "app processes behind nginx",
    "app.ready_path": "the path that answers 200 once a replica can serve (readiness, C-GS-5)",
    "app.run_as": "run the app as this user (root only); empty: as you",
    "app.cwd": "the folder the app runs in; empty: this profile's folder",
    "app.env": "extra environment for the app, e.g. { NODE_ENV = \"production\" }",
    "app.promise_env": "promise -> the variable your app reads it from, e.g. { kill_timeout_ms = \"SHUTDOWN_MS\" }",
    "app.sentry_sink": "run a Sentry-compatible sink and set SENTRY_DSN to it (C-OBS-3)",
    "app.capabilities": "what your app implements (docs/app-contract.md); scenarios for the rest skip",
    "faults.proxy": "put a Toxiproxy-compatible fault proxy on every link",
    "faults.direct_links": "links that bypass the proxy, e.g. [\"nginx->app-1\"]",
    "faults.server": "a Toxiproxy server binary to run as the fault proxy (or $INFRATESTS_FAULTS_SERVER); "
                     "empty: the built-in one",
    "binaries.postgres_bindir": "where initdb and postgres are; empty: the newest installed",
    "binaries.pgbouncer": "the pgbouncer binary; empty: found on PATH",
    "binaries.redis_server": "the redis-server binary; empty: found on PATH",
    "binaries.nginx": "the nginx binary; empty: found on PATH",
    "docker.images": "auto, local (built by `infratests images build`) or official (registry images)",
    "docker.network": "auto, bridge (a pod per stack) or host",
    "docker.ryuk": "testcontainers' reaper: auto, on or off",
    "docker.image": "one kind's image, e.g. { postgres = \"postgres:15-bookworm\" }",
    "backup.format": "custom (pg_dump -Fc) or plain-gzip (pg_dump | gzip) (C-BK-1)",
    "backup.retention": "backups kept (C-BK-2)",
    "backup.command": "your backup command, with {dsn} and {path} (or {dir}: it names the file); empty: pg_dump",
    "backup.restore_command": "your restore command, with {dsn} and {path}; empty: pg_restore / psql",
    "backup.prune_command": "your prune command, with {dir} and {keep}; empty: the built-in one",
    "backup.verify": "check a backup file before the built-in restore (C-BK-3); your own restore is judged as is",
    "backup.pattern": "which files in the backup folder are backups (a glob; newest by file time)",
    "external.url": "an environment the suite did not start (--backend external): its public HTTPS URL, "
                    "e.g. \"${STAGING_URL}\" (an unset [external] variable stops only the external backend)",
    "external.http_url": "its plain-HTTP listener (the redirect check); empty: http:// on the same host",
    "external.ca_file": "the CA that signs its certificate; empty: the system's",
    "external.replicas": "the app replicas' direct URLs, as an internal caller reaches them (optional)",
    "external.postgres_dsn": "Postgres, e.g. \"${STAGING_PG_DSN}\" (a read-only role is enough)",
    "external.pgbouncer_dsn": "PgBouncer, e.g. \"${STAGING_PGBOUNCER_DSN}\"",
    "external.pgbouncer_admin_dsn": "PgBouncer's admin console (SHOW CONFIG), e.g. \"${STAGING_PGBOUNCER_ADMIN}\"",
    "external.redis_urls": "Redis URLs, the cache node first (read-only checks), e.g. [\"${STAGING_REDIS_URL}\"]",
    "external.health_secret": "the X-Health-Secret of its internal callers, e.g. \"${HEALTH_SECRET}\"",
    "external.internal_ports": "ports that must not answer on the public host, e.g. [5432, 6379, 3000]",
    "promises.pool_max": "the app's DB pool size (C-POOL-1, C-POOL-3)",
    "promises.pool_min": "DB connections the app keeps open",
    "promises.acquire_timeout_ms": "longest wait for a pool connection; then an error (C-POOL-3)",
    "promises.pool_idle_timeout_ms": "idle pool connections above pool_min close after this (C-POOL-3)",
    "promises.pool_max_lifetime_s": "pool connections are recycled after this (C-POOL-5)",
    "promises.statement_timeout_ms": "a query running longer is cancelled (C-POOL-4)",
    "promises.isolation": "transfers run at read_committed (row locks) or serializable (retries) (C-TX-3)",
    "promises.breaker_threshold": "consecutive failures that open the circuit (C-CB-1)",
    "promises.breaker_reset_ms": "open -> half-open after this (C-CB-3)",
    "promises.breaker_call_timeout_ms": "a dependency call longer than this is a failure (C-CB-1)",
    "promises.retry_attempts": "calls per request, retries included (C-CB-5)",
    "promises.drain_delay_ms": "readiness answers 503 this long before the listener closes (C-GS-2)",
    "promises.kill_timeout_ms": "a drain that hangs is forced to exit after this (C-GS-3)",
    "promises.lock_ttl_ms": "Redlock TTL: a crashed holder's lock frees after it (C-LOCK-2)",
    "promises.health_rate_per_min": "external health calls per client and minute (C-HL-4)",
    "promises.cache_ttl_s": "TTL of every cache key the app writes (C-RD-3)",
    "promises.default_pool_size": "PgBouncer server connections per database/user pair, at most (C-POOL-2)",
    "promises.max_client_conn": "client connections PgBouncer serves, at least (C-POOL-2)",
    "promises.rate_auth_rps": "auth zone: requests/s per client before 429 (C-NGX-4)",
    "promises.rate_webhook_rps": "webhook zone: requests/s per client before 429 (C-NGX-4)",
    "promises.rate_api_rps": "api zone: requests/s per client before 429 (C-NGX-4)",
    "promises.gzip_min_length": "bodies from this many bytes are gzipped, smaller ones not (C-NGX-2)",
    "promises.upstream_keepalive": "idle upstream connections nginx keeps per worker (C-NGX-3)",
    "promises.backup_retention": "backups kept (C-BK-2)",
    "promises.redis_appendonly": "Redis persists every write to its append-only file (C-BK-5)",
    "promises.redis_appendfsync": "how often that file is fsynced (C-BK-5)",
    "promises.redis_maxmemory_policy": "what the cache does at its memory limit (C-RD-2)",
}


def profile_keys(cls: type = Profile, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every key a profile may set, dotted, with its default (sections in field order)."""
    hints = typing.get_type_hints(cls)
    for item in dataclasses.fields(cls):
        if cls is Profile and item.name in ("path", "overridden", "folder"):
            continue
        hint = hints[item.name]
        if dataclasses.is_dataclass(hint):
            yield from profile_keys(typing.cast(type, hint), f"{prefix}{item.name}.")
        else:
            default = item.default if item.default is not dataclasses.MISSING else item.default_factory()  # type: ignore[misc]
            yield f"{prefix}{item.name}", default


def commented_profile(app_hint: str = "") -> str:
    """An ``infratests.toml`` with every key commented out at its default, one line of help each."""
    lines = ["# infratests profile: every key at its default. Uncomment and change what differs;",
             "# `infratests gate --set KEY=VALUE` overrides one key for one run. Keys: docs in the",
             "# infratests package (docs/app-contract.md, docs/templates.md, docs/claims.md).", ""]
    section = ""
    for key, default in profile_keys():
        head, _, name = key.rpartition(".")
        if head != section:
            section = head
            lines += ["", f"[{section}]"]
        lines.append(f"# {KEY_DOCS[key]}")
        if key == "app.command" and app_hint:
            lines.append(f"# {app_hint}")
        lines.append(f"# {name} = {_toml(default)}")
    return "\n".join(lines) + "\n"


def _toml(value: Any) -> str:
    if value is None:
        return '""'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Path):
        return json.dumps(str(value))
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in value.items()) + " }" if value else "{}"
    if isinstance(value, tuple):
        return json.dumps(list(value))
    return json.dumps(value)
