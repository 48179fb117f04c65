"""Backup files: names sort by time, sidecars, and the verify step on literal files (C-BK-3)."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from infratests.backup import BackupCorrupt, list_backups, verify_backup
from infratests.backup.files import backup_path, write_sidecar
from infratests.errors import InfratestsError

SQL = b"CREATE TABLE t (x int);\n-- PostgreSQL database dump complete\n\n"


def _gz(path: Path, data: bytes = SQL) -> Path:
    path.write_bytes(gzip.compress(data))
    return path


def test_names_sort_by_time_and_never_collide(tmp_path: Path) -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, 6, UTC)
    first = backup_path(tmp_path, ".dump", now)
    first.write_bytes(b"x")
    same = backup_path(tmp_path, ".dump", now)
    later = backup_path(tmp_path, ".sql.gz", now + timedelta(seconds=1))
    assert first != same and same.name > first.name
    same.write_bytes(b"x")
    later.write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("not a backup")
    assert list_backups(tmp_path) == [later, same, first]
    assert list_backups(tmp_path / "missing") == []


def test_sound_gzip_backup_passes(tmp_path: Path) -> None:
    path = _gz(backup_path(tmp_path, ".sql.gz"))
    write_sidecar(path)
    verify_backup(path)


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty"])
def test_damage_is_detected_with_the_sidecar(tmp_path: Path, damage: str) -> None:
    path = _gz(backup_path(tmp_path, ".sql.gz"), SQL * 200)
    write_sidecar(path)
    data = path.read_bytes()
    mangled = {"truncate": data[: len(data) // 2], "flip": data[:40] + bytes([data[40] ^ 1]) + data[41:],
               "empty": b""}[damage]
    path.write_bytes(mangled)
    with pytest.raises(BackupCorrupt) as caught:
        verify_backup(path)
    assert str(path) in str(caught.value) and caught.value.subject == path
    assert isinstance(caught.value, InfratestsError)


def test_truncated_gzip_without_sidecar_is_detected_by_gzip(tmp_path: Path) -> None:
    path = _gz(tmp_path / "backup-x.sql.gz", SQL * 500)
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(BackupCorrupt, match="gzip"):
        verify_backup(path)


def test_plain_dump_cut_before_its_trailer_is_detected(tmp_path: Path) -> None:
    path = _gz(tmp_path / "backup-x.sql.gz", b"CREATE TABLE t (x int);\nCOPY t FROM stdin;\n1\n")
    with pytest.raises(BackupCorrupt, match="completion trailer"):
        verify_backup(path)


def test_custom_format_with_bad_body_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "backup-x.dump"
    path.write_bytes(b"PGDMP" + b"\x00" * 100)
    with pytest.raises(BackupCorrupt, match="pg_restore"):
        verify_backup(path)
