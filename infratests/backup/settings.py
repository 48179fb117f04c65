"""How backups are taken, kept and restored; every field a user may override."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from infratests.config import Profile
from infratests.errors import ConfigError
from infratests.stack import postgres

__all__ = ["BackupSettings", "settings_from_env", "settings_from_profile", "FORMATS", "MODES"]

FORMATS = ("custom", "plain-gzip")
MODES = ("snapshot", "per-table")
_ENV = "INFRATESTS_BACKUP_"


@dataclass(frozen=True)
class BackupSettings:
    """``format``: ``custom`` (pg_dump -Fc) or ``plain-gzip`` (pg_dump | gzip).

    ``mode``: ``snapshot`` (one pg_dump, one MVCC snapshot) or ``per-table``
    (schema, then each table's data by its own pg_dump: no common snapshot; the
    broken way, kept so the C-BK-1 scenario can be shown to catch it).
    ``command``: the team's backup command with ``{dsn}`` and ``{path}`` (the
    suite names the file) or ``{dir}`` (the command names it; ``pattern``, a glob,
    finds the team's backups); ``restore_command`` with ``{dsn}`` and ``{path}``;
    ``prune_command`` with ``{dir}`` and ``{keep}``. Empty means the built-in
    way. ``verify`` applies to the built-in restore only: a team's restore
    command is judged as it is.
    """

    format: str = "custom"
    mode: str = "snapshot"
    retention: int = 30
    command: str = ""
    restore_command: str = ""
    prune_command: str = ""
    verify: bool = True
    pattern: str = "backup-*"
    bindir: Path | None = None

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ConfigError(f"backup format {self.format!r}: use one of {', '.join(FORMATS)}", "format")
        if self.mode not in MODES:
            raise ConfigError(f"backup mode {self.mode!r}: use one of {', '.join(MODES)}", "mode")
        if self.retention < 1:
            raise ConfigError(f"backup retention {self.retention}: keep at least 1", "retention")


def settings_from_env(environ: Mapping[str, str], base: BackupSettings = BackupSettings()) -> BackupSettings:
    """``base`` overridden by ``INFRATESTS_BACKUP_<FIELD>`` (FORMAT, MODE, RETENTION, COMMAND, ...)."""
    values: dict[str, object] = {}
    for name in ("format", "mode", "command", "restore_command", "prune_command", "pattern"):
        if _ENV + name.upper() in environ:
            values[name] = environ[_ENV + name.upper()]
    if _ENV + "RETENTION" in environ:
        raw = environ[_ENV + "RETENTION"]
        if not raw.strip().isdigit():
            raise ConfigError(f"{_ENV}RETENTION={raw!r}: write a whole number", _ENV + "RETENTION")
        values["retention"] = int(raw)
    if _ENV + "VERIFY" in environ:
        values["verify"] = environ[_ENV + "VERIFY"].strip().lower() not in ("0", "off", "false", "no")
    return BackupSettings(**{**base.__dict__, **values})


def settings_from_profile(profile: Profile) -> BackupSettings:
    """The profile's ``[backup]`` table, with the stack's own pg_dump/pg_restore."""
    backup = profile.backup
    return BackupSettings(format=backup.format, retention=backup.retention, command=backup.command,
                          restore_command=backup.restore_command, prune_command=backup.prune_command,
                          verify=backup.verify, pattern=backup.pattern, bindir=postgres.bindir(profile))
