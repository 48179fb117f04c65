"""Backup files: names that sort by time, SHA-256 sidecars, and the verify step (C-BK-3).

A backup the suite names is ``backup-<UTC time to the microsecond>.dump``
(custom format) or ``.sql.gz`` (plain SQL, gzip); a team's own command may name
its files itself (``backup.pattern`` finds them). Each gets a ``.sha256``
sidecar once it was checked. Backups are ordered by time from the files
themselves (modification time), never by name. :func:`verify_backup` reads the
whole file: checksum, then the format's own integrity, told by its content
(gzip CRC and the dump's completion trailer; the custom format's header and a
full ``pg_restore`` to /dev/null). A backup that fails the check when it is
taken is moved to ``rejected/`` (C-BK-6): it never counts toward retention.
"""

from __future__ import annotations

import gzip
import hashlib
import subprocess
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from infratests.errors import InfratestsError

__all__ = ["Backup", "BackupError", "BackupCorrupt", "BackupRejected", "DEFAULT_PATTERN", "REJECTED",
           "backup_path", "is_gzip", "list_backups", "reject", "sha256", "write_sidecar", "verify_backup"]

DEFAULT_PATTERN = "backup-*"
REJECTED = "rejected"
_PREFIX = "backup-"
_NOT_BACKUPS = (".sha256", ".partial")
_TRAILER = b"-- PostgreSQL database dump complete"
_CUSTOM_MAGIC, _GZIP_MAGIC = b"PGDMP", b"\x1f\x8b"


class BackupError(InfratestsError):
    """Taking, pruning or restoring a backup failed; ``subject`` is the file or command."""


class BackupCorrupt(BackupError):
    """The backup file is truncated or corrupt; nothing was restored. ``subject``: the file."""


class BackupRejected(BackupError):
    """A backup just taken is empty, truncated or does not restore (C-BK-6); it was moved aside."""


@dataclass(frozen=True)
class Backup:
    """One backup taken: file, when the dump started and finished (monotonic and epoch s)."""

    path: Path
    started: float
    finished: float
    started_wall: float
    finished_wall: float

    @property
    def seconds(self) -> float:
        return self.finished - self.started

    @property
    def size(self) -> int:
        return self.path.stat().st_size


def backup_path(directory: Path, suffix: str, now: datetime | None = None) -> Path:
    """A new, unused file name in ``directory`` that sorts after every older backup."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S.%f")
    path = directory / f"{_PREFIX}{stamp}Z{suffix}"
    counter = 0
    while path.exists():  # two backups in the same microsecond; "_" sorts after "Z"
        counter += 1
        path = directory / f"{_PREFIX}{stamp}_{counter:03d}Z{suffix}"
    return path


def list_backups(directory: Path, pattern: str = DEFAULT_PATTERN) -> list[Path]:
    """The backups in ``directory`` (files matching ``pattern``), newest first by their files' time."""
    if not directory.is_dir():
        return []
    found = [p for p in directory.glob(pattern) if p.is_file() and not p.name.endswith(_NOT_BACKUPS)]
    return sorted(found, key=lambda p: (p.stat().st_mtime_ns, p.name), reverse=True)


def reject(path: Path) -> Path:
    """Move a backup that failed its check to ``rejected/`` next to it (out of every listing)."""
    folder = path.parent / REJECTED
    folder.mkdir(exist_ok=True)
    return path.rename(folder / path.name)


def is_gzip(path: Path) -> bool:
    with path.open("rb") as data:
        return data.read(2) == _GZIP_MAGIC


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as data:
        for block in iter(lambda: data.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def write_sidecar(path: Path) -> Path:
    sidecar = _sidecar(path)
    sidecar.write_text(f"{sha256(path)}  {path.name}\n")
    return sidecar


def verify_backup(path: Path, pg_restore: Path | str | None = None) -> None:
    """Raise :class:`BackupCorrupt` naming the file and what is wrong, or return if it is sound."""
    if not path.is_file() or path.stat().st_size == 0:
        raise BackupCorrupt(f"backup {path} is missing or empty", path)
    sidecar = _sidecar(path)
    if sidecar.is_file():
        expected = sidecar.read_text().split()[0]
        if sha256(path) != expected:
            raise BackupCorrupt(f"backup {path} is corrupt or truncated: its SHA-256 does not "
                                f"match {sidecar.name} ({path.stat().st_size} bytes now)", path)
    with path.open("rb") as data:
        head = data.read(5)
    if head.startswith(_GZIP_MAGIC):
        _verify_gzip(path)
    elif head == _CUSTOM_MAGIC:
        _verify_custom(path, pg_restore)
    else:
        _verify_plain(path, path.read_bytes()[-4096:])


def _verify_gzip(path: Path) -> None:
    tail = b""
    try:
        with gzip.open(path, "rb") as data:
            for block in iter(lambda: data.read(1 << 20), b""):
                tail = (tail + block)[-4096:]
    except (OSError, EOFError, zlib.error) as error:
        raise BackupCorrupt(f"backup {path} is corrupt or truncated: gzip says {error}", path) from None
    _verify_plain(path, tail)


def _verify_plain(path: Path, tail: bytes) -> None:
    if _TRAILER not in tail:
        raise BackupCorrupt(f"backup {path} is truncated: the SQL dump lacks pg_dump's "
                            f"completion trailer ({_TRAILER.decode()!r})", path)


def _verify_custom(path: Path, pg_restore: Path | str | None) -> None:
    done = subprocess.run([str(pg_restore or "pg_restore"), "--file=/dev/null", str(path)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupCorrupt(f"backup {path} is corrupt or truncated: pg_restore says "
                            f"{done.stderr.strip()[-500:]}", path)
