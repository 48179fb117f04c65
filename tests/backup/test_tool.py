"""The backup tool against a real Postgres: round trips, the user's own commands, pruning, refusing damage."""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from infratests.backup import (
    BackupCorrupt,
    BackupError,
    BackupRejected,
    BackupSettings,
    list_backups,
    prune,
    restore_backup,
    take_backup,
)
from infratests.stack.resets import fresh_database
from infratests.stack.topology import Stack


@pytest.fixture
def source(fresh_database: str) -> str:
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute("CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL)")
        conn.execute("INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 500) g")
    return fresh_database


@pytest.fixture
def target(stack: Stack) -> Iterator[str]:
    with fresh_database(stack) as dsn:
        yield dsn


def _items(dsn: str) -> list[tuple[int, str]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT id, name FROM items ORDER BY id").fetchall()


def _tables(dsn: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        return [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]


@pytest.mark.parametrize(("fmt", "mode", "suffix"), [("custom", "snapshot", ".dump"),
                                                     ("plain-gzip", "snapshot", ".sql.gz"),
                                                     ("custom", "per-table", ".sql.gz")])
def test_round_trip(source: str, target: str, tmp_path: Path, fmt: str, mode: str, suffix: str) -> None:
    settings = BackupSettings(format=fmt, mode=mode)
    backup = take_backup(source, tmp_path, settings)
    assert backup.path.name.endswith(suffix) and backup.size > 0 and backup.finished >= backup.started
    assert (tmp_path / (backup.path.name + ".sha256")).is_file()
    report = restore_backup(backup.path, target, settings)
    assert _items(target) == _items(source)
    assert report.seconds > 0 and report.path == backup.path


def test_users_own_commands(source: str, target: str, tmp_path: Path) -> None:
    bindir = _bindir()
    settings = BackupSettings(command=f"{bindir}/pg_dump --format=custom --file={{path}} {{dsn}}",
                              restore_command=f"{bindir}/pg_restore --no-owner --dbname={{dsn}} {{path}}")
    backup = take_backup(source, tmp_path, settings)
    restore_backup(backup.path, target, settings)
    assert _items(target) == _items(source)


def test_failing_command_is_an_error_and_leaves_no_backup(source: str, tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="exited 3"):
        take_backup(source, tmp_path, BackupSettings(command="echo partial > {path}; exit 3"))
    assert list(tmp_path.iterdir()) == []


def test_damaged_file_is_refused_before_the_target_is_touched(source: str, target: str, tmp_path: Path) -> None:
    backup = take_backup(source, tmp_path)
    backup.path.write_bytes(backup.path.read_bytes()[:-100])
    with pytest.raises(BackupCorrupt, match=shlex.quote(str(backup.path)).strip("'")):
        restore_backup(backup.path, target)
    assert _tables(target) == []


def test_prune_keeps_newest_and_removes_sidecars(source: str, tmp_path: Path) -> None:
    paths = [take_backup(source, tmp_path, BackupSettings(retention=10)).path for _ in range(4)]
    removed = prune(tmp_path, 2)
    assert removed == sorted(paths[:2], reverse=True)
    assert list_backups(tmp_path) == sorted(paths[2:], reverse=True)
    assert sorted(p.name for p in tmp_path.glob("*.sha256")) == sorted(p.name + ".sha256" for p in paths[2:])


def _bindir() -> Path:
    from infratests.config import Profile
    from infratests.stack.postgres import bindir

    return bindir(Profile())


def test_an_empty_backup_is_rejected_when_taken_and_never_counted(source: str, tmp_path: Path) -> None:
    """C-BK-6: an empty file from a command that exits 0 is flagged with its stderr and set aside; the
    good backups before it are not pruned to make room for it."""
    good = [take_backup(source, tmp_path, BackupSettings(retention=2)).path for _ in range(2)]
    empty = BackupSettings(retention=2, command="echo 'pg_dump: error: nothing to dump' >&2; : > {path}")
    with pytest.raises(BackupRejected, match="nothing to dump") as rejected:
        take_backup(source, tmp_path, empty)
    assert rejected.value.subject.parent == tmp_path / "rejected"
    assert list_backups(tmp_path) == good[::-1]


def test_a_team_names_its_own_files_and_retention_goes_by_time(source: str, tmp_path: Path) -> None:
    """``{dir}``: the command names the file; the new file matching ``pattern`` is the backup, and the
    newest by time are kept whatever their names."""
    bindir = _bindir()
    names = iter(["zz", "aa", "mm"])  # names that do not sort by time
    taken = []
    for name in names:
        settings = BackupSettings(retention=2, pattern="nightly-*.dump",
                                  command=f"{bindir}/pg_dump --format=custom --file={{dir}}/nightly-{name}.dump "
                                          "--dbname={dsn}")
        taken.append(take_backup(source, tmp_path, settings).path)
    assert [p.name for p in taken] == ["nightly-zz.dump", "nightly-aa.dump", "nightly-mm.dump"]
    assert list_backups(tmp_path, "nightly-*.dump") == [taken[2], taken[1]]
