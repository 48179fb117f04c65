"""The profile: defaults are the claims' numbers; every bad input names its key and fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from infratests.errors import ConfigError
from infratests.profile_file import find_profile_file, load_profile, parse_overrides


def test_defaults_are_the_claims_numbers() -> None:
    profile = load_profile()
    assert profile.pgbouncer.pool_mode == "transaction"
    assert (profile.pgbouncer.default_pool_size, profile.pgbouncer.max_client_conn) == (30, 1000)
    assert (profile.promises.pool_max, profile.promises.pool_min, profile.app.replicas) == (20, 2, 2)
    assert (profile.redis.lock_nodes, profile.redis.appendfsync) == (3, "everysec")
    assert (profile.redis.maxmemory, profile.redis.maxmemory_policy) == ("512mb", "allkeys-lru")
    assert (profile.nginx.rate_auth_rps, profile.nginx.rate_webhook_rps, profile.nginx.rate_api_rps) == (10, 50, 100)
    assert profile.nginx.keepalive == 32


def test_cli_beats_file_beats_default(tmp_path: Path) -> None:
    path = tmp_path / "infratests.toml"
    path.write_text("[postgres]\nmax_connections = 50\n[app]\nreplicas = 3\n")
    profile = load_profile(path, {"app.replicas": "4"})
    assert profile.postgres.max_connections == 50
    assert profile.app.replicas == 4
    assert profile.pgbouncer.default_pool_size == 30


def test_pyproject_section_is_found(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.infratests.redis]\nlock_nodes = 5\n")
    path = find_profile_file(tmp_path)
    assert path == tmp_path / "pyproject.toml"
    assert load_profile(path).redis.lock_nodes == 5


@pytest.mark.parametrize(("text", "message"), [
    ("[postgres]\nmax_conections = 5\n", "unknown key postgres.max_conections: did you mean postgres.max_connections?"),
    ("[postgres]\nmax_connections = '5'\n", "postgres.max_connections = '5' has the wrong type: write a whole number"),
    ("[redis]\nappendonly = 'yes'\n", "redis.appendonly = 'yes' has the wrong type: write true or false"),
    ("[pgbouncer]\npool_mode = 'txn'\n", "pgbouncer.pool_mode = 'txn'"),
    ("[app]\nreplicas = 0\n", "app.replicas = 0"),
    ("[promises]\npool_min = 30\n", "promises.pool_min (30) > promises.pool_max (20)"),
    ("[app]\ncommand = ['x']\ncapabilities = ['dbs']\n", "app.capabilities: unknown capability 'dbs'"),
    ("[app]\npromise_env = { pool_size = 'X' }\n", "app.promise_env: 'pool_size' is not an app-side promise"),
    ("[nginx]\ntemplate = 'missing.j2'\n", "missing.j2 does not exist"),
    ("postgres = 3\n", "postgres must be a table"),
    ("[app\n", "is not valid TOML"),
])
def test_bad_profile_names_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "infratests.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=None) as raised:
        load_profile(path)
    assert message in str(raised.value)


def test_missing_profile_file_is_named() -> None:
    with pytest.raises(ConfigError, match="does-not-exist.toml does not exist"):
        load_profile(Path("does-not-exist.toml"))


def test_override_needs_key_and_value() -> None:
    assert parse_overrides(["app.replicas=3"]) == {"app.replicas": "3"}
    with pytest.raises(ConfigError, match="write KEY=VALUE"):
        parse_overrides(["app.replicas"])


def test_string_override_without_quotes() -> None:
    assert load_profile(None, {"pgbouncer.pool_mode": "session"}).pgbouncer.pool_mode == "session"
