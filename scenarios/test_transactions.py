"""Transactions (C-TX-1..4): all or nothing, no false success across cuts, the bank invariant under
faults, and which session state leaks through PgBouncer's transaction pooling."""

from __future__ import annotations

import dataclasses
import itertools
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
import pytest

from infratests.checks import bank, counter, sets
from infratests.checks.result import CheckResult, Violation, assert_holds, make_result
from infratests.faults.nemesis import Nemesis, RecordedFault
from infratests.faults.plan import DEFAULT_PARAMS, FaultPlan
from infratests.history import History, Op, OpType, Recorder
from infratests.load import LoadSpec, LocustRun
from infratests.load.workloads import BankSpec, BankWorkload
from infratests.load.workloads.sets import LEDGER, ORDERS, pg_add_once, pg_set_read, pg_set_tables, pg_torn_pairs
from infratests.plugin import StackFactory
from infratests.stack.effective import effective_value
from infratests.stack.pgbouncer import pools
from infratests.stack.postgres import dsn as make_dsn
from infratests.stack.topology import Stack
from infratests.wait import wait_until


# _RESET_NOTE: reset_peer drops a connection's data until its timer fires; healing cancels the timer,
# leaving connections that silently lost bytes mid-stream (no real TCP does that): Postgres then
# waits forever inside a transaction holding row locks. after_ms=0 resets at once.
def _reset_at_once(_rng: random.Random) -> dict[str, int]:  # a plan's parameter maker, see _RESET_NOTE
    return {"after_ms": 0}


BALANCE = 10**12  # large, and still far below 2^53 (JavaScript numbers)


def _balances(https: httpx.Client) -> dict[str, int]:
    response = https.get("/accounts")
    response.raise_for_status()
    return response.json()["balances"]


@pytest.mark.gate
@pytest.mark.needs("bank")
def test_transfer_commits_both_rows_or_neither(https: httpx.Client) -> None:
    """C-TX-1: a transfer commits debit and credit together; when the credit fails after the debit
    ran (the contract's ``fail_after_debit``), the debit is rolled back too."""
    https.post("/accounts/seed", json={"accounts": 2, "balance": BALANCE}).raise_for_status()
    moved = https.post("/transfers", json={"from": 0, "to": 1, "amount": 5})
    committed = _balances(https)
    broken = https.post("/transfers", json={"from": 0, "to": 1, "amount": 7, "fail_after_debit": True})
    after = _balances(https)
    assert moved.status_code == 200 and committed == {"0": BALANCE - 5, "1": BALANCE + 5}, (
        f"C-TX-1 violated: a good transfer answered {moved.status_code} and left {committed}")
    assert broken.status_code != 200 and after == committed, (
        f"C-TX-1 violated: a transfer whose credit failed answered {broken.status_code} and changed "
        f"the balances from {committed} to {after}: its debit was not rolled back")


def _wait_for(recorder: Recorder, f: str, kind: OpType, more: int, timeout: float = 45.0) -> None:
    """Until ``more`` further ``kind`` completions of ``f`` are recorded.

    A progress gate, not the claim: the timeout is wide because SERIALIZABLE transfers on five hot
    accounts retry a lot, and a busy 2-core CI worker slows them further (20 took 6 s idle)."""
    target = recorder.count(f, kind) + more
    wait_until(lambda: recorder.count(f, kind) >= target, f"{more} more {kind.value} {f!r} (progress)", timeout)


def _final_read(workload: BankWorkload, timeout: float = 20.0) -> None:
    wait_until(lambda: workload.read("final") is not None, "the bank answers a read after healing", timeout,
               interval=0.1)


def _as_counter(history: History, spec: BankSpec) -> History:
    """One-way transfers as increments of the money outside account 0; reads as that sum."""
    initial = (spec.accounts - 1) * spec.balance

    def convert(op: Op) -> Op:
        if op.f == "transfer":
            return dataclasses.replace(op, f="add", value=op.value["amount"])
        if op.f == "read" and op.type is OpType.OK:
            return dataclasses.replace(op, value=sum(v for k, v in op.value.items() if k != "0") - initial)
        return op
    return History.of(convert(op) for op in history)


def _indeterminate(history: History, spec: BankSpec) -> dict[str, int]:
    """How many transfers ended info, and how much of their money the final read shows moved
    (> 0: some committed although their client saw an error, e.g. a cut after COMMIT)."""
    converted = _as_counter(history, spec)
    final = next(op.value for op in reversed(converted.ops) if op.f == "read" and op.type is OpType.OK)
    ok = sum(op.value for op in converted.ops if op.f == "add" and op.type is OpType.OK)
    infos = [op for op in converted.ops if op.f == "add" and op.type is OpType.INFO]
    return {"info_transfers": len(infos), "info_amount": sum(op.value for op in infos),
            "info_amount_applied": final - ok}


def _merge(claim: str, *results: CheckResult) -> CheckResult:
    stats = {k: v for r in results for k, v in r.stats.items() if not isinstance(v, list)}
    return make_result(claim, [v for r in results for v in r.violations], stats)


@pytest.mark.gate
@pytest.mark.chaos
@pytest.mark.needs("bank")
def test_cut_connections_never_fake_a_commit(stack: Stack, faults: Nemesis, recorder: Recorder,
                                             record_property: Callable[..., None]) -> None:
    """C-TX-2: app transfers through cuts and resets on app->PgBouncer and PgBouncer->Postgres, then
    direct two-row transactions cut at every byte of their last responses (so also between COMMIT
    and its acknowledgement): every transaction is all or nothing (bank total, no half-written
    pair) and none is reported ok without having happened (counter bounds, no lost add); a cut
    COMMIT ends as an error (info) whose write may be there."""
    spec = BankSpec(accounts=4, balance=10**9, workers=4, max_amount=9, one_way=True)
    workload = BankWorkload(stack.url, recorder, spec, ca_file=stack.tls.ca, seed=2)
    workload.seed()
    cuts: list[Callable[[], RecordedFault]] = [
        lambda: faults.cut_after_bytes("pgbouncer", 700, stream="downstream"),
        lambda: faults.cut_after_bytes("postgres", 900, stream="downstream"),
        lambda: faults.reset_peer("postgres", after_ms=0),  # see _RESET_NOTE
        lambda: faults.cut_after_bytes("pgbouncer", 1300, stream="upstream"),
    ]
    with workload:
        for cut in cuts:
            with cut():
                _wait_for(recorder, "transfer", OpType.INFO, 3)
            _wait_for(recorder, "transfer", OpType.OK, 3)  # recovery speed is not the claim
    _final_read(workload)
    adds = Recorder()
    with _set_tables(stack) as direct:
        _commit_ack_sweep(stack, faults, adds)
        pg_set_read(direct, adds)
        torn = pg_torn_pairs(direct)
    history = recorder.history()
    money = bank.check(history, total=spec.total, accounts=spec.names, claim="C-TX-2")
    acknowledged = counter.check(_as_counter(history, spec), claim="C-TX-2")
    pairs = sets.check(adds.history(), claim="C-TX-2")
    record_property("indeterminate", {**_indeterminate(history, spec), **pairs.stats})
    print(f"C-TX-2: transfers {_indeterminate(history, spec)}; direct adds {pairs.stats}")
    assert pairs.stats["recovered"] > 0, "C-TX-2 scenario: no cut fell between a COMMIT and its ack"
    assert_holds(_merge("C-TX-2", money, acknowledged, pairs, _torn("C-TX-2", adds.history(), torn)))


@contextmanager
def _set_tables(stack: Stack) -> Iterator[str]:
    """The order/ledger tables in the app database (direct DSN), dropped afterwards."""
    direct = stack["postgres"].endpoint.url
    pg_set_tables(direct)
    try:
        yield direct
    finally:
        with psycopg.connect(direct, autocommit=True) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {ORDERS}, {LEDGER}")


def _commit_ack_sweep(stack: Stack, faults: Nemesis, recorder: Recorder) -> None:
    """Cut app->PgBouncer at every byte offset of the end of a login + one two-row transaction.

    A binary search finds T, the bytes PgBouncer sends for it; cutting at T-40..T-1 lands inside
    the last responses, COMMIT's acknowledgement among them (the transaction committed, the
    client saw an error).
    """
    pg, link = stack.profile.postgres, stack.link("app", "pgbouncer")
    url = make_dsn(link.port, pg.user, pg.password, pg.database)
    elements = itertools.count(1)

    def completes_within(n: int) -> bool:
        with faults.cut_after_bytes("pgbouncer", n, stream="downstream"):
            return pg_add_once(url, recorder, next(elements), "cutter")

    low, high = 0, 16384
    assert completes_within(high), "C-TX-2 scenario: an add through app->PgBouncer failed without a cut"
    while low + 1 < high:
        mid = (low + high) // 2
        low, high = (low, mid) if completes_within(mid) else (mid, high)
    for n in range(max(high - 40, 1), high):
        completes_within(n)


def _torn(claim: str, history: History, torn: tuple[list[int], list[int]]) -> CheckResult:
    orphans, strays = torn
    read = next(op for op in reversed(history.ops) if op.f == "read" and op.type is OpType.OK)
    return make_result(claim, [Violation.at(
        "partial-write", read, f"orders without ledger line {orphans[:5]}, ledger lines without order "
        f"{strays[:5]}: a cut transaction was applied in part")] if orphans or strays else [])


@pytest.fixture(params=["read_committed", "serializable"])
def bank_stack(request: pytest.FixtureRequest, stack_factory: StackFactory) -> Iterator[Stack]:
    """A private stack whose transfers run at the parameter's isolation (when the app receives it,
    else at the isolation the profile promises)."""
    with stack_factory(promises={"isolation": request.param}) as private:
        yield private


@pytest.mark.chaos
@pytest.mark.destructive
@pytest.mark.slow
@pytest.mark.needs("bank")
def test_bank_invariant_holds_under_faults(bank_stack: Stack, recorder: Recorder, fault_seed: int,
                                          tmp_path: Path) -> None:
    """C-TX-3: concurrent transfers (recorded workers, plus Locust transfer users as background
    load) through latency, resets, a PgBouncer restart and a Postgres restart, then a random plan
    of link faults drawn from the run's seed: every snapshot read sums to the seeded total with no
    negative balance, at READ COMMITTED with row locks and at SERIALIZABLE with retries."""
    spec = BankSpec(accounts=5, balance=100, workers=6, max_amount=40)
    workload = BankWorkload(bank_stack.url, recorder, spec, ca_file=bank_stack.tls.ca, seed=3)
    workload.seed()
    nemesis = Nemesis(bank_stack, recorder)
    plan = FaultPlan.random(fault_seed, ("postgres", "pgbouncer"), ("latency", "reset_peer", "down"), 8.0,
                            fault_s=(0.5, 2.0), params={**DEFAULT_PARAMS, "reset_peer": _reset_at_once})
    background = LocustRun(LoadSpec("bank_transfers", bank_stack.url, users=4, duration_s=300, rate_per_user=10,
                                    ca_file=bank_stack.tls.ca,
                                    env={"INFRATESTS_ACCOUNTS": str(spec.accounts), "INFRATESTS_SEED": "0"}),
                           tmp_path / "locust")
    with workload, background:
        _wait_for(recorder, "transfer", OpType.OK, 20)
        with nemesis.latency("postgres", ms=30, jitter=20), nemesis.latency("pgbouncer", ms=20):
            _wait_for(recorder, "transfer", OpType.OK, 20)
        with nemesis.reset_peer("pgbouncer", after_ms=0):  # see _RESET_NOTE
            _wait_for(recorder, "transfer", OpType.INFO, 3)
        for name in ("pgbouncer", "postgres"):
            nemesis.restart(name)
            _wait_for(recorder, "transfer", OpType.OK, 20)
        with nemesis.run(plan):
            time.sleep(plan.duration_s)
        _wait_for(recorder, "transfer", OpType.OK, 20)
    _final_read(workload)
    assert background.result.requests > 0, "C-TX-3: the Locust background load made no requests"
    assert_holds(bank.check(recorder.history(), total=spec.total, accounts=spec.names, claim="C-TX-3"))


_LOCK_KEY = 7_305_777
# feature -> (safe in transaction pooling?, what client A does, what client B asks of its session)
_FEATURES: dict[str, tuple[bool, list[str], str]] = {
    "SET (session)": (False, ["SET statement_timeout = '4321ms'"],
                      "SELECT current_setting('statement_timeout') = '4321ms'"),
    "SET LOCAL": (True, ["BEGIN", "SET LOCAL statement_timeout = '4322ms'", "COMMIT"],
                  "SELECT current_setting('statement_timeout') = '4322ms'"),
    "advisory lock (session)": (False, [f"SELECT pg_advisory_lock({_LOCK_KEY})"],
                                "SELECT count(*) > 0 FROM pg_locks WHERE locktype = 'advisory' "
                                "AND pid = pg_backend_pid()"),
    "advisory lock (xact)": (True, ["BEGIN", f"SELECT pg_advisory_xact_lock({_LOCK_KEY})", "COMMIT"],
                             "SELECT count(*) > 0 FROM pg_locks WHERE locktype = 'advisory' "
                             "AND pid = pg_backend_pid()"),
    "temp table": (False, ["CREATE TEMP TABLE leak_probe (x int)"],
                   "SELECT to_regclass('pg_temp.leak_probe') IS NOT NULL"),
    "temp table ON COMMIT DROP": (True, ["BEGIN", "CREATE TEMP TABLE leak_probe2 (x int) ON COMMIT DROP",
                                         "COMMIT"],
                                  "SELECT to_regclass('pg_temp.leak_probe2') IS NOT NULL"),
    "prepared statement (PREPARE)": (False, ["PREPARE leak_stmt AS SELECT 1"],
                                     "SELECT count(*) > 0 FROM pg_prepared_statements"),
    "prepared statement (protocol)": (False, ["@prepare SELECT 1"],
                                      "SELECT count(*) > 0 FROM pg_prepared_statements"),
    "unnamed statements (prepare_threshold=None)": (True, ["SELECT 1"],
                                                    "SELECT count(*) > 0 FROM pg_prepared_statements"),
}
# What a correct report says per pool mode: transaction pooling leaks every unsafe feature;
# session pooling runs DISCARD ALL when a client leaves, so nothing leaks.
_EXPECTED = {"transaction": {f: not safe for f, (safe, _, _) in _FEATURES.items()},
             "session": dict.fromkeys(_FEATURES, False)}


def _leaks(dsn: str, feature: str) -> bool | str:
    """Client A uses ``feature`` and leaves; does client B, on the pool's one server connection, see it?"""
    _, actions, probe = _FEATURES[feature]
    try:
        with psycopg.connect(dsn, autocommit=True, prepare_threshold=None) as reset:
            reset.execute("DISCARD ALL")
        with psycopg.connect(dsn, autocommit=True, prepare_threshold=None) as a:
            for sql in actions:
                if sql.startswith("@prepare "):  # a named server-side statement, as psycopg's default makes
                    a.prepare_threshold = 0
                a.execute(sql.removeprefix("@prepare "))
        with psycopg.connect(dsn, autocommit=True, prepare_threshold=None) as b:
            return bool(b.execute(probe).fetchone()[0])  # type: ignore[index]
    except psycopg.Error as error:
        return f"error: {str(error).strip()[:80]}"


def _free_server_slots(stack: Stack) -> int:
    """Server connections of the app's pool a new client can get: the pool size less those linked
    to a client now. With the app idle, a linked one is stuck (an earlier cut on this shared stack
    can leave one waiting forever); probing it would wait for query_wait_timeout."""
    profile = stack.profile
    active = sum(int(pool["sv_active"]) for pool in pools(stack["pgbouncer"].endpoint, profile.postgres.database))
    return profile.pgbouncer.default_pool_size - active


@pytest.mark.gate
def test_pgbouncer_session_state_leaks_are_known(stack: Stack, fresh_database: str,
                                                 record_property: Callable[..., None]) -> None:
    """C-TX-4: a table of which session features leak from one client to the next through
    PgBouncer (asserted against the pool mode); the transaction-scoped alternatives never leak."""
    mode = effective_value(stack, "pgbouncer.pool_mode")
    info = psycopg.conninfo.conninfo_to_dict(fresh_database)
    bouncer = make_dsn(stack["pgbouncer"].endpoint.port, str(info["user"]), str(info["password"]),
                       str(info["dbname"]))
    table = {feature: _leaks(bouncer, feature) for feature in _FEATURES}
    record_property("pgbouncer_session_leaks", table)
    print(f"C-TX-4 pool_mode={mode}: " + "; ".join(f"{f}: {'LEAKS' if v is True else v or 'safe'}"
                                                   for f, v in table.items()))
    wrong = [f"{f}: leaks={v} (expected {_EXPECTED.get(mode, {}).get(f, 'no leak')})"
             for f, v in table.items()
             if (v is not False and _FEATURES[f][0]) or (mode in _EXPECTED and v != _EXPECTED[mode][f])]
    assert not wrong, f"C-TX-4 violated (pool_mode={mode}): " + "; ".join(wrong)


@pytest.mark.gate
@pytest.mark.needs("db")
def test_the_apps_transactions_leave_no_session_state(stack: Stack, https: httpx.Client) -> None:
    """C-TX-4: after the app's transactions through PgBouncer, no server connection keeps the app's
    per-transaction statement_timeout (it was SET LOCAL, not a session SET)."""
    if effective_value(stack, "pgbouncer.pool_mode") != "transaction":
        pytest.skip("in session pooling the app's clients keep their server connections: nothing leaks")
    for _ in range(20):
        https.get("/db/sleep", params={"s": 0}).raise_for_status()
    clients = [psycopg.connect(stack["pgbouncer"].endpoint.url, prepare_threshold=None)
               for _ in range(_free_server_slots(stack))]
    try:  # each client holds a transaction open, so each sits on its own server connection
        seen = [str(c.execute("SHOW statement_timeout").fetchone()[0]) for c in clients]  # type: ignore[index]
    finally:
        for client in clients:
            client.close()
    leaked = [value for value in seen if value != "0"]
    assert not leaked, (f"C-TX-4 violated: the app's statement_timeout outlived its transactions: "
                        f"{len(leaked)} of {len(seen)} server connections show {sorted(set(leaked))}")
