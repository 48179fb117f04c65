"""Backup settings: defaults, environment overrides, errors that name the setting."""

from __future__ import annotations

import pytest

from infratests.backup import BackupSettings, settings_from_env
from infratests.errors import ConfigError


def test_defaults_are_the_seed_teams() -> None:
    settings = BackupSettings()
    assert (settings.format, settings.mode, settings.retention, settings.verify) == ("custom", "snapshot", 30, True)


def test_environment_overrides_every_field() -> None:
    settings = settings_from_env({
        "INFRATESTS_BACKUP_FORMAT": "plain-gzip", "INFRATESTS_BACKUP_MODE": "per-table",
        "INFRATESTS_BACKUP_RETENTION": "7", "INFRATESTS_BACKUP_COMMAND": "dump {dsn} {path}",
        "INFRATESTS_BACKUP_RESTORE_COMMAND": "load {dsn} {path}",
        "INFRATESTS_BACKUP_PRUNE_COMMAND": "prune {dir} {keep}", "INFRATESTS_BACKUP_VERIFY": "off"})
    assert settings == BackupSettings("plain-gzip", "per-table", 7, "dump {dsn} {path}", "load {dsn} {path}",
                                      "prune {dir} {keep}", False)


def test_environment_keeps_the_base_for_unset_fields() -> None:
    assert settings_from_env({}, BackupSettings(retention=3)).retention == 3


@pytest.mark.parametrize(("env", "subject"), [
    ({"INFRATESTS_BACKUP_FORMAT": "tar"}, "format"),
    ({"INFRATESTS_BACKUP_MODE": "parallel"}, "mode"),
    ({"INFRATESTS_BACKUP_RETENTION": "0"}, "retention"),
    ({"INFRATESTS_BACKUP_RETENTION": "many"}, "INFRATESTS_BACKUP_RETENTION"),
])
def test_bad_values_name_the_setting(env: dict[str, str], subject: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_from_env(env)
    assert caught.value.subject == subject
