"""Backup and restore (C-BK-1..6): consistent snapshots, retention, refusing damaged files, Redis AOF,
backups checked when taken.

The backup tool's settings come from ``INFRATESTS_BACKUP_*`` (format, mode,
retention, the user's own commands): a user points them at their own scripts,
and mutants point them at broken ones.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
import redis

from infratests.backup import (
    Backup,
    BackupCorrupt,
    BackupError,
    BackupRejected,
    BackupSettings,
    list_backups,
    restore_backup,
    settings_from_env,
    take_backup,
)
from infratests.backup.settings import settings_from_profile
from infratests.backup.target import scratch_postgres, scratch_redis
from infratests.checks import bank, sets
from infratests.checks.promises import rule_for
from infratests.checks.result import CheckResult, Violation, assert_holds, make_result
from infratests.config import Profile
from infratests.faults.nemesis import Nemesis
from infratests.history import History, OpType, Recorder
from infratests.load.workloads import BankSpec, PgSetWorkload, RedisSetWorkload, SqlBankWorkload
from infratests.load.workloads.bank import BANK_TABLE
from infratests.load.workloads.sets import LEDGER, ORDERS, pg_set_read, pg_torn_pairs, redis_set_read
from infratests.stack.postgres import superuser_dsn
from infratests.stack.service import Service
from infratests.stack.topology import Stack
from infratests.wait import wait_until

AOF_WINDOW_S = 1.0  # appendfsync everysec
AOF_MARGIN_S = 0.5  # fsync scheduling on a loaded 2-core machine


def _settings(profile: Profile, **scenario: object) -> BackupSettings:
    """The profile's backup settings, the scenario's own on top, ``INFRATESTS_BACKUP_*`` over both."""
    return settings_from_env(os.environ, replace(settings_from_profile(profile), **scenario))  # type: ignore[arg-type]


def _wait_for_ops(recorder: Recorder, f: str, count: int, timeout: float = 20.0) -> None:
    wait_until(lambda: recorder.count(f, OpType.OK) >= count, f"the workload made {count} ok {f!r}", timeout)


@pytest.fixture
def set_tables(stack: Stack) -> Iterator[str]:
    """The suite's own tables (bank, orders, ledger) in the shared app database, dropped afterwards."""
    yield stack["pgbouncer"].endpoint.url
    with psycopg.connect(stack["postgres"].endpoint.url, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {ORDERS}, {LEDGER}, {BANK_TABLE}")


@pytest.mark.gate
def test_backup_during_bank_load_restores_a_consistent_snapshot(
        stack: Stack, set_tables: str, tmp_path: Path, record_property: Callable[..., None]) -> None:
    """C-BK-1, C-BK-4: a dump taken during transfers and inserts (straight through PgBouncer, whatever
    the app) restores into an empty server as one snapshot (bank total holds; every add acknowledged
    before the dump is there, none invoked after it; no transaction torn); restore time is measured."""
    settings, recorder = _settings(stack.profile), Recorder()
    spec = BankSpec(accounts=8, balance=100, workers=3)
    workload = SqlBankWorkload(set_tables, recorder, spec)
    workload.seed()
    with workload, PgSetWorkload(set_tables, recorder, workers=3):
        _wait_for_ops(recorder, "transfer", 20)
        _wait_for_ops(recorder, "add", 50)
        backup = _taken(stack["postgres"].endpoint.url, tmp_path, settings)
        _wait_for_ops(recorder, "add", recorder.count("add") // 2 + 20)
    with scratch_postgres(stack) as target:
        report = restore_backup(backup.path, target.endpoint.url, settings)
        record_property("backup_seconds", round(backup.seconds, 3))
        record_property("restore_seconds", round(report.seconds, 3))
        print(f"C-BK-4 restore drill: {backup.size} bytes dumped in {backup.seconds:.2f} s, "
              f"verified in {report.verify_seconds:.2f} s, restored in {report.restore_seconds:.2f} s")
        restored = _restored_reads(target, recorder)
        torn = pg_torn_pairs(target.endpoint.url)
    assert_holds(_snapshot(restored, spec, backup.started, backup.finished, torn))


def _restored_reads(target: Service, recorder: Recorder) -> History:
    """The load history plus two reads of the restored copy: the balances and the set."""
    with psycopg.connect(target.endpoint.url) as conn:
        balances = {str(i): b for i, b in conn.execute(f"SELECT id, balance FROM {BANK_TABLE}")}
    copy = Recorder()
    copy.record("restored", OpType.INVOKE, "balances")
    copy.record("restored", OpType.OK, "balances", balances)
    pg_set_read(target.endpoint.url, copy, "restored")
    return History.of(sorted([*recorder.history(), *copy.history()], key=lambda op: op.time))


def _snapshot(history: History, spec: BankSpec, started: float, finished: float,
              torn: tuple[list[int], list[int]]) -> CheckResult:
    """One C-BK-1 verdict: bank checker + set checker on the copy + no half-restored transaction."""
    money = bank.check(history, total=spec.total, accounts=spec.names, claim="C-BK-1", read="balances")
    rows = sets.check(history, claim="C-BK-1", acked_before=started, absent_after=finished)
    orphans, strays = torn
    read = next(op for op in reversed(history.ops) if op.f == "read" and op.type is OpType.OK)
    split = [Violation.at("torn-transaction", read, f"{len(orphans)} orders without their ledger line "
                          f"(e.g. {orphans[:3]}) and {len(strays)} ledger lines without their order "
                          f"(e.g. {strays[:3]}): the tables were dumped at different moments")
             ] if orphans or strays else []
    stats = {**{k: v for k, v in money.stats.items() if k != "totals"}, **rows.stats,
             "dump_seconds": round(finished - started, 3)}
    return make_result("C-BK-1", [*money.violations, *rows.violations, *split], stats)


@pytest.mark.gate
def test_retention_keeps_exactly_the_newest_n(stack: Stack, fresh_database: str, tmp_path: Path) -> None:
    """C-BK-2: the configured retention is the promised one, and after each of N+3 backups (N = 3 here)
    the directory holds exactly the newest min(k, N) by time, whatever the files are named."""
    settings = _settings(stack.profile, retention=3)
    promised, configured = stack.profile.promises.backup_retention, stack.profile.backup.retention
    wrong = [f"promised backup_retention {promised}; configured {configured} (backup.retention)"] \
        if configured != promised else []
    taken: list[Path] = []
    for k in range(1, settings.retention + 4):
        taken.append(_taken(fresh_database, tmp_path, settings).path)
        expected = taken[-settings.retention:][::-1]
        kept = list_backups(tmp_path, settings.pattern)
        if kept != expected:
            wrong.append(f"after backup {k}: kept {[p.name for p in kept]}, expected the newest "
                         f"{[p.name for p in expected]}")
    assert not wrong, f"C-BK-2 violated: retention {settings.retention} did not keep the newest " \
                      f"{settings.retention}: " + "; ".join(wrong)


def _taken(dsn: str, directory: Path, settings: BackupSettings) -> Backup:
    """A backup by the team's command; one flagged as unsound when taken is C-BK-6's violation."""
    try:
        return take_backup(dsn, directory, settings)
    except BackupRejected as rejected:
        pytest.fail(f"C-BK-6 violated: {rejected}", pytrace=False)


@pytest.mark.gate
def test_every_backup_is_checked_when_taken(stack: Stack, fresh_database: str, tmp_path: Path) -> None:
    """C-BK-6: each backup the team's command takes is checked at once (not empty, complete, restorable
    by pg_restore's own reading); an unsound one is flagged with the command's stderr and set aside,
    so it never counts toward retention."""
    settings = _settings(stack.profile)
    backups = [_taken(fresh_database, tmp_path, settings) for _ in range(2)]
    listed = list_backups(tmp_path, settings.pattern)
    assert [b.path for b in backups][::-1] == listed[:2] and all(b.size > 0 for b in backups), (
        f"C-BK-6 violated: backups taken {[b.path.name for b in backups]}, listed {[p.name for p in listed]}")


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    for offset in range(len(data) // 3, len(data) // 3 + 64):
        data[offset] ^= 0x5A
    path.write_bytes(bytes(data))


def _strip_sidecar_and_truncate(path: Path) -> None:
    path.with_name(path.name + ".sha256").unlink()
    _truncate(path)


@pytest.mark.gate
@pytest.mark.parametrize("fmt", ["custom", "plain-gzip"])
def test_damaged_backup_is_refused_before_anything_is_restored(stack: Stack, fmt: str, tmp_path: Path) -> None:
    """C-BK-3: truncated, corrupted and unchecksummed-truncated files are refused and the target database
    is left exactly as it was (empty). The built-in restore must detect the damage up front, naming the
    file; a team's own restore command refuses by exiting non-zero with the target untouched."""
    settings = _settings(stack.profile, format=fmt)
    with psycopg.connect(stack["postgres"].endpoint.url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bk_payload AS SELECT g AS id, md5(g::text) AS v "
                     "FROM generate_series(1, 20000) g")
    try:
        good = _taken(stack["postgres"].endpoint.url, tmp_path / "good", settings).path
    finally:
        with psycopg.connect(stack["postgres"].endpoint.url, autocommit=True) as conn:
            conn.execute("DROP TABLE IF EXISTS bk_payload")
    problems: list[str] = []
    with scratch_postgres(stack) as target:
        for name, damage in (("truncated", _truncate), ("corrupted", _flip),
                             ("truncated, no checksum", _strip_sidecar_and_truncate)):
            problems += _try_damaged(target, good, name, damage, settings, tmp_path / name)
    assert not problems, f"C-BK-3 violated ({fmt}): " + "; ".join(problems)


def _try_damaged(target: Service, good: Path, name: str, damage: Callable[[Path], None],
                 settings: BackupSettings, folder: Path) -> list[str]:
    folder.mkdir()
    copy = folder / good.name
    copy.write_bytes(good.read_bytes())
    (folder / (good.name + ".sha256")).write_bytes(good.with_name(good.name + ".sha256").read_bytes())
    damage(copy)
    database = f"r_{folder.name.replace(' ', '_').replace(',', '')}"
    with psycopg.connect(superuser_dsn(target.endpoint), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}" OWNER "{_user(target)}"')
    url = target.endpoint.url.rsplit("/", 1)[0] + f"/{database}"
    try:
        restore_backup(copy, url, settings)
        outcome = "the restore reported success"
    except BackupCorrupt as error:
        outcome = "" if str(copy) in str(error) else f"the error does not name the file: {error}"
    except BackupError as error:  # a team's command refusing (non-zero exit) is a refusal
        outcome = "" if settings.restore_command else \
            f"not detected up front, the restore itself failed: {str(error)[:200]!r}"
    with psycopg.connect(url) as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname='public'")]
    changed = f"; the target was modified (tables {tables})" if tables else ""
    return [f"{name} backup: {outcome}{changed}"] if outcome or changed else []


def _user(target: Service) -> str:
    return str(psycopg.conninfo.conninfo_to_dict(target.endpoint.url)["user"])


@pytest.mark.gate
@pytest.mark.destructive
def test_redis_aof_everysec_loses_at_most_a_second_on_kill9(stack: Stack, recorder: Recorder) -> None:
    """C-BK-5: with the promised persistence (appendonly yes, everysec), kill -9 during SADDs loses
    at most ~1 s of acknowledged writes; with persistence off the loss is reported. The node's
    effective persistence (CONFIG GET) is held to the promise and shown beside the loss."""
    nemesis = Nemesis(stack, recorder)
    with scratch_redis(stack) as node:
        effective = _persistence(node)
        with RedisSetWorkload(node.endpoint.url, recorder, workers=2):
            _wait_for_ops(recorder, "add", 300)
            time.sleep(AOF_WINDOW_S + AOF_MARGIN_S)  # the fault happens mid-stream: writes span > 1 fsync
            nemesis.kill(node)
            _wait_for_info(recorder)
        nemesis.start(node)
        redis_set_read(node.endpoint.url, recorder)
    history = recorder.history()
    killed_at = history.fault_window("crash", node.name)[0]
    result = sets.check(history, claim="C-BK-5", acked_before=killed_at - AOF_WINDOW_S - AOF_MARGIN_S)
    promises = stack.profile.promises
    promised = f"appendonly {'yes' if promises.redis_appendonly else 'no'}, appendfsync {promises.redis_appendfsync}"
    print(f"C-BK-5: promised {promised}; effective {effective}: {result.stats}")
    weaker = not rule_for("redis.appendonly").kept(promises.redis_appendonly, effective["appendonly"] == "yes") \
        or not rule_for("redis.appendfsync").kept(promises.redis_appendfsync, effective["appendfsync"])
    assert not weaker, (f"C-BK-5 violated: promised {promised}; the node runs with {effective} "
                        f"(redis.conf, CONFIG GET); after kill -9: {dict(result.counts())} {result.stats}")
    assert_holds(result)


def _persistence(node: Service) -> dict[str, str]:
    """``appendonly`` and ``appendfsync`` as the running node reports them."""
    client = redis.Redis.from_url(node.endpoint.url, socket_timeout=5.0, decode_responses=True)
    try:
        return {name: str(client.config_get(name)[name]) for name in ("appendonly", "appendfsync")}  # type: ignore[index]
    finally:
        client.close()


def _wait_for_info(recorder: Recorder, timeout: float = 10.0) -> None:
    """Until a writer has seen the crash (an indeterminate add)."""
    wait_until(lambda: any(op.type is OpType.INFO for op in recorder.history().client_ops()),
               "a writer noticed the kill", timeout, interval=0.01)
