"""Mutants of the data tier: transactions (C-TX), pool limits (C-POOL), backup and restore (C-BK).

Each mutant is a reference-app knob (``app.env.REFAPP_*``), a broken profile
value, or a broken backup tool setting (``INFRATESTS_BACKUP_*`` in the
scenario's environment: a per-table dump, an off-by-one prune command, a
restore without the verify step). The meta-test runs the scenario against it
and asserts the scenario fails naming the claim.
"""

from __future__ import annotations

from tests.mutants.mutant import Mutant

TX = "scenarios/test_transactions.py::"
POOL = "scenarios/test_pool_limits.py::"
BK = "scenarios/test_backup_restore.py::"
NO_TX = {"app.env.REFAPP_TRANSFER_TX": "off"}


MUTANTS = (
    Mutant("transfer-without-transaction", "C-TX-1", TX + "test_transfer_commits_both_rows_or_neither",
           NO_TX, "debit and credit are separate autocommits: a failed credit leaves the debit"),
    Mutant("transfer-without-transaction-cut", "C-TX-2", TX + "test_cut_connections_never_fake_a_commit",
           NO_TX, "a connection cut between debit and credit loses the money"),
    Mutant("transfer-without-transaction-faults", "C-TX-3",
           TX + "test_bank_invariant_holds_under_faults[read_committed]",
           NO_TX, "snapshots see money in flight; resets and restarts lose it"),
    Mutant("session-set-behind-pgbouncer", "C-TX-4",
           TX + "test_the_apps_transactions_leave_no_session_state",
           {"app.env.REFAPP_SESSION_SET": "on"},
           "statement_timeout set per session: it leaks to other clients' transactions"),
    Mutant("app-pool-over-client-limit", "C-POOL-1", POOL + "test_connection_budget_fits_statically_and_under_load",
           {"promises.pool_max": "600"}, "2 replicas x 600 app connections > PgBouncer max_client_conn 1000"),
    Mutant("pgbouncer-pool-over-max-connections", "C-POOL-1",
           POOL + "test_connection_budget_fits_statically_and_under_load",
           {"pgbouncer.default_pool_size": "150"}, "PgBouncer may open 150 server connections; Postgres allows 97"),
    Mutant("session-pooling-small-pool", "C-POOL-2",
           POOL + "test_pgbouncer_serves_max_client_conn_and_refuses_the_next",
           {"pgbouncer.pool_mode": "session"},
           "session pooling: 30 clients pin the 30 server connections, the rest hang"),
    Mutant("acquire-timeout-ten-minutes", "C-POOL-3", POOL + "test_exhausted_app_pool_fails_fast_and_recovers",
           {"app.env.REFAPP_POOL_TIMEOUT_MS": "600000"}, "callers wait for a connection for ten minutes"),
    Mutant("no-statement-timeout", "C-POOL-4",
           POOL + "test_statement_timeout_cancels_a_runaway_query_and_the_connection_is_reused",
           {"app.env.REFAPP_STATEMENT_TIMEOUT_MS": "0"}, "a runaway query holds its connection until it ends"),
    Mutant("no-check-on-checkout", "C-POOL-5", POOL + "test_stale_connections_are_replaced_after_restarts",
           {"app.env.REFAPP_POOL_CHECK": "off"}, "dead connections are handed out after a restart, one per request"),
    Mutant("pool-lifetime-an-hour", "C-POOL-5", POOL + "test_max_lifetime_recycles_connections",
           {"app.env.REFAPP_POOL_MAX_LIFETIME_S": "3600"}, "connections are never recycled within the test"),
    Mutant("backup-per-table", "C-BK-1", BK + "test_backup_during_bank_load_restores_a_consistent_snapshot",
           {}, "each table dumped by its own pg_dump: no common snapshot",
           env={"INFRATESTS_BACKUP_MODE": "per-table"}),
    Mutant("retention-off-by-one", "C-BK-2", BK + "test_retention_keeps_exactly_the_newest_n",
           {}, "the classic `ls | tail -n +N | xargs rm` keeps N-1",
           env={"INFRATESTS_BACKUP_PRUNE_COMMAND":
                "ls -1 | grep -v sha256 | sort -r | tail -n +{keep} | xargs -r rm --"}),
    Mutant("restore-without-verify", "C-BK-3",
           BK + "test_damaged_backup_is_refused_before_anything_is_restored[plain-gzip]",
           {}, "restore pipes the file into psql without checking it first",
           env={"INFRATESTS_BACKUP_VERIFY": "off"}),
    Mutant("redis-without-persistence", "C-BK-5", BK + "test_redis_aof_everysec_loses_at_most_a_second_on_kill9",
           {"redis.appendonly": "false"}, "appendonly no, no snapshots: kill -9 loses every write"),
)

