"""Backup and restore of the app database (C-BK-1..4, C-BK-6): pg_dump + check + retention + restore.

The tool does what the seed teams' cron jobs do (``pg_dump`` custom format, or
plain SQL piped through gzip), plus what they forgot: a SHA-256 sidecar and a
structural check before any restore, so a truncated or corrupt file is refused
before the target is touched. Users can plug in their own commands
(:class:`BackupSettings`).
"""

from infratests.backup.files import Backup, BackupCorrupt, BackupError, BackupRejected, list_backups, verify_backup
from infratests.backup.settings import BackupSettings, settings_from_env
from infratests.backup.tool import RestoreReport, prune, restore_backup, take_backup

__all__ = [
    "Backup",
    "BackupCorrupt",
    "BackupError",
    "BackupRejected",
    "BackupSettings",
    "RestoreReport",
    "list_backups",
    "prune",
    "restore_backup",
    "settings_from_env",
    "take_backup",
    "verify_backup",
]
