"""Take, check, prune and restore backups (C-BK-1..4, C-BK-6) with pg_dump/pg_restore/psql or the team's
own commands.

A team's backup command takes ``{dsn}`` and either ``{path}`` (the suite names
the file) or ``{dir}`` (the command names it; the new file matching
``pattern`` is the backup). Every backup is checked the moment it is taken:
one that is empty, truncated or does not restore is moved aside with the
command's stderr and never counts toward retention. A team's restore command
is judged as it is: the suite never verifies a file on its behalf.
"""

from __future__ import annotations

import gzip
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from infratests.backup.files import (
    Backup,
    BackupCorrupt,
    BackupError,
    BackupRejected,
    backup_path,
    is_gzip,
    list_backups,
    reject,
    verify_backup,
    write_sidecar,
)
from infratests.backup.settings import BackupSettings

__all__ = ["RestoreReport", "take_backup", "restore_backup", "prune"]

_TIMEOUT_S = 300.0
_DEFAULTS = BackupSettings()


@dataclass(frozen=True)
class RestoreReport:
    """What a restore did: the file, how long verify and restore took (C-BK-4)."""

    path: Path
    verify_seconds: float
    restore_seconds: float

    @property
    def seconds(self) -> float:
        return self.verify_seconds + self.restore_seconds


def take_backup(dsn: str, directory: Path, settings: BackupSettings = _DEFAULTS) -> Backup:
    """Dump the database at ``dsn`` into a new file in ``directory``, check it, write its checksum, prune.

    Raises :class:`BackupRejected` (the file moved to ``rejected/``) when the new backup is unsound.
    """
    directory.mkdir(parents=True, exist_ok=True)
    started, started_wall = time.monotonic(), time.time()
    path, stderr = _dump(dsn, directory, settings)
    finished, finished_wall = time.monotonic(), time.time()
    try:
        verify_backup(path, _tool(settings, "pg_restore"))
    except BackupCorrupt as unsound:
        moved = reject(path)
        said = f"; its stderr: {stderr.strip()[-500:]}" if stderr.strip() else "; it wrote nothing to stderr"
        raise BackupRejected(f"the backup just taken ({settings.command or 'pg_dump'}) is unsound and was set "
                             f"aside as {moved}: {unsound}{said}", moved) from None
    write_sidecar(path)
    prune(directory, settings.retention, settings.prune_command, settings.pattern)
    return Backup(path, started, finished, started_wall, finished_wall)


def _dump(dsn: str, directory: Path, settings: BackupSettings) -> tuple[Path, str]:
    """Run the dump; the new file and what the command said on stderr."""
    if settings.command and "{dir}" in settings.command:
        before = set(list_backups(directory, settings.pattern))
        stderr = _shell(settings.command.format(dsn=shlex.quote(dsn), dir=shlex.quote(str(directory))))
        new = [p for p in list_backups(directory, settings.pattern) if p not in before]
        if len(new) != 1:
            raise BackupError(f"backup command {settings.command!r} made {len(new)} new files matching "
                              f"{settings.pattern!r} in {directory}, not one", settings.command)
        return new[0], stderr
    plain = settings.format == "plain-gzip" or settings.mode == "per-table"
    path = backup_path(directory, ".sql.gz" if plain else ".dump")
    partial = path.with_name(path.name + ".partial")
    stderr = ""
    try:
        if settings.command:
            stderr = _shell(settings.command.format(dsn=shlex.quote(dsn), path=shlex.quote(str(partial))))
        elif settings.mode == "per-table":
            _dump_per_table(dsn, partial, settings)
        elif plain:
            _dump_gzip(dsn, partial, settings, [])
        else:
            _run([_tool(settings, "pg_dump"), "--format=custom", "--no-owner", f"--file={partial}",
                  f"--dbname={dsn}"])
        partial.rename(path)  # only a finished dump gets a backup name
    finally:
        partial.unlink(missing_ok=True)
    return _named_by_content(path), stderr


def _named_by_content(path: Path) -> Path:
    """The suffix says what the command wrote (gzip'd SQL or a custom archive), not what was asked."""
    suffix = ".sql.gz" if path.stat().st_size and is_gzip(path) else ".dump"
    if path.name.endswith(suffix):
        return path
    return path.rename(path.with_name(path.name.removesuffix(".dump").removesuffix(".sql.gz") + suffix))


def restore_backup(path: Path, dsn: str, settings: BackupSettings = _DEFAULTS) -> RestoreReport:
    """Restore ``path`` into ``dsn``: the built-in way verifies it first (``verify``: raises BackupCorrupt
    before touching anything); a team's ``restore_command`` runs as it is, and its exit code is its answer."""
    began = time.monotonic()
    if settings.verify and not settings.restore_command:
        verify_backup(path, _tool(settings, "pg_restore"))
    verified = time.monotonic()
    if settings.restore_command:
        _shell(settings.restore_command.format(dsn=shlex.quote(dsn), path=shlex.quote(str(path))))
    elif is_gzip(path):
        _restore_gzip(path, dsn, settings)
    else:
        _run([_tool(settings, "pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error",
              "--single-transaction", f"--dbname={dsn}", str(path)])
    return RestoreReport(path, verified - began, time.monotonic() - verified)


def prune(directory: Path, keep: int, command: str = "", pattern: str = "backup-*") -> list[Path]:
    """Keep the newest ``keep`` backups by time (C-BK-2), delete older ones and their sidecars; return the
    deleted."""
    before = list_backups(directory, pattern)
    if command:
        _shell(command.format(dir=shlex.quote(str(directory)), keep=keep), cwd=directory)
    else:
        for old in before[keep:]:
            old.unlink()
    for sidecar in directory.glob("*.sha256"):
        if not sidecar.with_name(sidecar.name.removesuffix(".sha256")).exists():
            sidecar.unlink()
    return [p for p in before if not p.exists()]


def _tool(settings: BackupSettings, name: str) -> str:
    if settings.bindir is not None:
        return str(settings.bindir / name)
    from infratests.config import Profile
    from infratests.stack.postgres import bindir

    try:
        return str(bindir(Profile()) / name)
    except Exception:
        return shutil.which(name) or name


def _dump_gzip(dsn: str, target: Path, settings: BackupSettings, extra: list[str]) -> None:
    argv = [_tool(settings, "pg_dump"), "--format=plain", "--no-owner", *extra, f"--dbname={dsn}"]
    with gzip.open(target, "ab") as out:
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert process.stdout is not None
        for block in iter(lambda: process.stdout.read(1 << 16), b""):  # type: ignore[union-attr]
            out.write(block)
        _, err = process.communicate(timeout=_TIMEOUT_S)
    if process.returncode != 0:
        raise BackupError(f"{argv[0]} exited {process.returncode}: {err.decode(errors='replace')[-800:]}",
                          argv[0])


def _dump_per_table(dsn: str, target: Path, settings: BackupSettings) -> None:
    """Schema, then each table's rows by a separate pg_dump: each sees its own snapshot."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        tables = [row[0] for row in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")]
    _dump_gzip(dsn, target, settings, ["--schema-only"])
    for table in tables:
        _dump_gzip(dsn, target, settings, ["--data-only", f"--table=public.{table}"])


def _restore_gzip(path: Path, dsn: str, settings: BackupSettings) -> None:
    argv = [_tool(settings, "psql"), "--quiet", "--no-psqlrc", "--set=ON_ERROR_STOP=1",
            "--single-transaction", f"--dbname={dsn}"]
    with gzip.open(path, "rb") as data:
        done = subprocess.run(argv, input=data.read(), capture_output=True, timeout=_TIMEOUT_S)
    if done.returncode != 0:
        raise BackupError(f"psql exited {done.returncode} restoring {path}: "
                          f"{done.stderr.decode(errors='replace')[-800:]}", path)


def _run(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=_TIMEOUT_S)
    if done.returncode != 0:
        raise BackupError(f"{Path(argv[0]).name} exited {done.returncode}: {done.stderr[-800:]}", argv[0])


def _shell(command: str, cwd: Path | None = None) -> str:
    """Run a team's command; its stderr (a non-zero exit raises BackupError with it)."""
    done = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=_TIMEOUT_S,
                          cwd=cwd)
    if done.returncode != 0:
        raise BackupError(f"command {command!r} exited {done.returncode}: {done.stderr[-800:]}", command)
    return done.stderr
