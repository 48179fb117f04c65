"""Mutants of the data tier: transactions (C-TX), pool limits (C-POOL), backup and restore (C-BK).

Each mutant is a reference-app knob (``app.env.REFAPP_*``), a broken profile
value, or a broken backup tool setting (``INFRATESTS_BACKUP_*`` in the
scenario's environment: a per-table dump, an off-by-one prune command, a
restore without the verify step). The meta-test runs the scenario against it
and asserts the scenario fails naming the claim.
"""

from __future__ import annotations

from pathlib import Path

from tests.mutants.mutant import Mutant

TX = "scenarios/test_transactions.py::"
SMOKE = "scenarios/test_smoke.py::"
POOL = "scenarios/test_pool_limits.py::"
BK = "scenarios/test_backup_restore.py::"
CONF = "scenarios/test_configuration.py::"
NO_TX = {"app.env.REFAPP_TRANSFER_TX": "off"}
TEMPLATES = Path(__file__).with_name("templates")
# A team's numbered backups (db-8, db-9, db-10...), pruned by name: "db-9" sorts after "db-10".
NUMBERED_BACKUP = ("[ -f {dir}/.counter ] || echo 7 > {dir}/.counter; n=$(( $(cat {dir}/.counter) + 1 )); "
                   "echo $n > {dir}/.counter; pg_dump --format=custom --file={dir}/db-$n.dump --dbname={dsn}")
PRUNE_BY_NAME = "ls -1 db-*.dump | sort -r | tail -n +$(({keep}+1)) | xargs -r rm --"


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
    Mutant("session-pooling-without-reset-query", "C-TX-4", TX + "test_pgbouncer_session_state_leaks_are_known",
           {"pgbouncer.template": str(TEMPLATES / "pgbouncer_session_no_reset.ini.j2")},
           "pgbouncer.ini: session pooling with an empty server_reset_query: SET leaks to the next client"),
    Mutant("app-pool-over-client-limit", "C-POOL-1", POOL + "test_connection_budget_fits_statically_and_under_load",
           {"promises.pool_max": "600"}, "2 replicas x 600 app connections > PgBouncer max_client_conn 1000"),
    Mutant("pgbouncer-pool-over-max-connections", "C-POOL-1",
           POOL + "test_connection_budget_fits_statically_and_under_load",
           {"pgbouncer.default_pool_size": "150"}, "PgBouncer may open 150 server connections; Postgres allows 97"),
    Mutant("postgres-template-max-connections-20", "C-POOL-1",
           POOL + "test_connection_budget_fits_statically_and_under_load",
           {"postgres.template": str(TEMPLATES / "postgres_max_connections_20.conf.j2")},
           "postgresql.conf hard-codes max_connections = 20: PgBouncer's 30 server connections do not fit"),
    Mutant("pgbouncer-template-max-client-conn-100", "C-POOL-2",
           POOL + "test_pgbouncer_serves_max_client_conn_and_refuses_the_next",
           {"pgbouncer.template": str(TEMPLATES / "pgbouncer_max_client_conn_100.ini.j2")},
           "pgbouncer.ini hard-codes max_client_conn = 100 (the profile says 1000)"),
    Mutant("pgbouncer-max-client-conn-lowered", "C-POOL-2",
           POOL + "test_pgbouncer_serves_max_client_conn_and_refuses_the_next",
           {"pgbouncer.max_client_conn": "100"}, "the profile lowers max_client_conn to 100; 1000 was promised"),
    Mutant("pool-math-read-from-the-servers", "C-POOL-1", CONF + "test_pool_math_fits_on_the_running_servers",
           {"pgbouncer.default_pool_size": "150"}, "PgBouncer may open 150 server connections; Postgres allows 97"),
    Mutant("running-pgbouncer-below-its-promise", "C-POOL-2",
           CONF + "test_the_servers_settings_keep_the_promises[C-POOL-2]",
           {"pgbouncer.max_client_conn": "100"}, "the running PgBouncer serves 100 clients; 1000 were promised"),
    Mutant("running-redis-without-persistence", "C-BK-5",
           CONF + "test_the_servers_settings_keep_the_promises[C-BK-5]",
           {"redis.appendonly": "false"}, "the running Redis has appendonly no; yes was promised"),
    Mutant("session-pooling-small-pool", "C-POOL-2",
           POOL + "test_pgbouncer_serves_max_client_conn_and_refuses_the_next",
           {"pgbouncer.pool_mode": "session"},
           "session pooling: 30 clients pin the 30 server connections, the rest hang"),
    Mutant("acquire-timeout-ten-minutes", "C-POOL-3", POOL + "test_exhausted_app_pool_fails_fast_and_recovers",
           {"app.env.REFAPP_POOL_TIMEOUT_MS": "600000"}, "callers wait for a connection for ten minutes"),
    Mutant("acquire-timeout-ten-minutes-db-down", "C-POOL-3",
           SMOKE + "test_pgbouncer_down_fails_db_requests_then_recovers",
           {"app.env.REFAPP_POOL_TIMEOUT_MS": "600000"}, "with PgBouncer down, callers wait ten minutes to fail"),
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
           {}, "the team's restore pipes the file into psql without checking it (`gunzip -c | psql`)",
           env={"INFRATESTS_BACKUP_RESTORE_COMMAND": "gunzip -c {path} | psql --quiet {dsn}"}),
    Mutant("prune-by-name", "C-BK-2", BK + "test_retention_keeps_exactly_the_newest_n",
           {}, "numbered backups pruned by name: db-9 sorts after db-10, the newest are deleted",
           env={"INFRATESTS_BACKUP_COMMAND": NUMBERED_BACKUP, "INFRATESTS_BACKUP_PATTERN": "db-*.dump",
                "INFRATESTS_BACKUP_PRUNE_COMMAND": PRUNE_BY_NAME}),
    Mutant("backup-writes-empty-file", "C-BK-6", BK + "test_every_backup_is_checked_when_taken",
           {}, "`pg_dump | gzip > file` without pipefail: pg_dump fails, an empty dump is written, exit 0",
           env={"INFRATESTS_BACKUP_COMMAND": "pg_dump --dbname={dsn}_missing | gzip > {path}"}),
    Mutant("redis-without-persistence", "C-BK-5", BK + "test_redis_aof_everysec_loses_at_most_a_second_on_kill9",
           {"redis.appendonly": "false"}, "appendonly no, no snapshots: kill -9 loses every write"),
    Mutant("redis-template-appendonly-no", "C-BK-5",
           BK + "test_redis_aof_everysec_loses_at_most_a_second_on_kill9",
           {"redis.template": str(TEMPLATES / "redis_appendonly_no.conf.j2")},
           "redis.conf hard-codes appendonly no (the profile says yes)"),
)

