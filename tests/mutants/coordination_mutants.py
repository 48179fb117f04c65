"""Mutants of coordination and operations: locks (C-LOCK), breaker (C-CB), health (C-HL), Redis (C-RD),
observability (C-OBS).

Each mutant is a reference-app knob (``app.env.REFAPP_*``), a broken profile
value, or a broken nginx config (``tests/mutants/coordination/``). The
meta-test runs the scenario against it and asserts the scenario fails naming
the claim. Scenarios that demonstrate a known unsafe property (Redlock without
fencing, a lock node restarted at once without persistence) live in
``tests/demonstrations/`` and are caught by the mutant that makes the
demonstration impossible.
"""

from __future__ import annotations

from pathlib import Path

from tests.mutants.mutant import Mutant

LOCKS = "scenarios/test_locks.py::"
DEMOS = "tests/demonstrations/test_redlock_unsafety.py::"
BREAKER = "scenarios/test_breaker.py::"
HEALTH = "scenarios/test_health.py::"
REDIS = "scenarios/test_redis.py::"
OBS = "scenarios/test_observability.py::"
MIRROR = str(Path(__file__).with_name("coordination") / "nginx_mirror.conf.j2")


def _app(**knobs: str) -> dict[str, str]:
    return {f"app.env.{name}": value for name, value in knobs.items()}


MUTANTS = (
    Mutant("lock-expires-mid-job-unfenced", "C-LOCK-1", LOCKS + "test_contending_workers_never_overlap",
           _app(REFAPP_LOCK_TTL_MS="40", REFAPP_LOCK_EXTEND="off", REFAPP_FENCING="off"),
           "a 40 ms TTL, no extension, no fencing: the lock expires inside 60 ms jobs"),
    Mutant("lock-without-ttl", "C-LOCK-2", LOCKS + "test_crashed_holder_frees_the_lock_after_its_ttl",
           _app(REFAPP_LOCK_TTL_MS="0"), "lock keys have no TTL: a crashed holder blocks the job forever"),
    Mutant("lock-ttl-hours", "C-LOCK-2", LOCKS + "test_crashed_holder_frees_the_lock_after_its_ttl",
           _app(REFAPP_LOCK_TTL_MS="3600000"), "a one-hour TTL: a crashed holder's lock outlives any retry"),
    Mutant("lock-release-without-owner-check", "C-LOCK-2",
           LOCKS + "test_a_stale_holder_cannot_release_its_successors_lock",
           _app(REFAPP_LOCK_OWNER_CHECK="off"), "release is a plain DEL: a stale holder frees its successor's lock"),
    Mutant("lock-single-redis-node", "C-LOCK-3",
           LOCKS + "test_one_lock_node_fault_keeps_exclusion_and_liveness[down]",
           {"redis.lock_nodes": "1"}, "one lock node: losing it stops every job"),
    Mutant("lock-quorum-one", "C-LOCK-3", LOCKS + "test_two_lock_nodes_down_never_grants",
           _app(REFAPP_LOCK_QUORUM="1"), "the lock is granted by any single node"),
    Mutant("lock-restart-with-fsync-always", "C-LOCK-3",
           DEMOS + "test_lock_node_restarted_at_once_without_persistence_double_grants",
           {"redis.appendonly": "true", "redis.appendfsync": "always"},
           "the node keeps its keys over a restart, so the unsafe case cannot be shown",
           verdict="not demonstrated"),
    Mutant("lock-restart-without-ttl", "C-LOCK-3",
           LOCKS + "test_lock_nodes_restarted_after_the_ttl_keep_exclusion",
           _app(REFAPP_LOCK_TTL_MS="0", REFAPP_FENCING="off"),
           "no TTL, no fencing: waiting out the TTL before a restart cannot make it safe"),
    Mutant("lock-no-fencing", "C-LOCK-4", LOCKS + "test_paused_holder_is_fenced",
           _app(REFAPP_FENCING="off"), "section writes are unguarded: the paused holder's stale write lands"),
    Mutant("lock-pause-without-ttl", "C-LOCK-4", DEMOS + "test_paused_holder_without_fencing_overlaps",
           _app(REFAPP_LOCK_TTL_MS="0"), "no TTL: the paused holder keeps the lock, no overlap to show",
           verdict="not demonstrated"),
    Mutant("lock-no-extension", "C-LOCK-5", LOCKS + "test_auto_extension_keeps_a_long_jobs_lock",
           _app(REFAPP_LOCK_EXTEND="off"), "long jobs outlive their lock"),
    Mutant("lock-no-extension-keeps-running", "C-LOCK-5", LOCKS + "test_failed_extension_stops_the_job",
           _app(REFAPP_LOCK_EXTEND="off"), "nothing notices the lock is gone: the job runs to its end"),
    Mutant("breaker-never-opens", "C-CB-1", BREAKER + "test_breaker_opens_fails_fast_and_recovers[down]",
           _app(REFAPP_BREAKER_THRESHOLD="never"), "every call reaches the failing dependency"),
    Mutant("breaker-never-opens-on-timeouts", "C-CB-1",
           BREAKER + "test_breaker_opens_fails_fast_and_recovers[latency_above_call_timeout]",
           _app(REFAPP_BREAKER_THRESHOLD="0"), "every call waits for the slow dependency's timeout"),
    Mutant("breaker-never-opens-on-resets", "C-CB-1",
           BREAKER + "test_breaker_opens_fails_fast_and_recovers[reset_peer]",
           _app(REFAPP_BREAKER_THRESHOLD="never"), "every call reaches the resetting dependency"),
    Mutant("retry-storm", "C-CB-5", BREAKER + "test_retries_do_not_amplify_an_outage",
           _app(REFAPP_BREAKER_THRESHOLD="0", REFAPP_RETRY_ATTEMPTS="10", REFAPP_RETRY_BASE_MS="0"),
           "ten immediate retries per request, no breaker"),
    Mutant("retries-without-breaker", "C-CB-5", BREAKER + "test_retries_do_not_amplify_an_outage",
           _app(REFAPP_BREAKER_THRESHOLD="0"), "bounded retries but no breaker: the outage load doubles"),
    Mutant("liveness-checks-the-db", "C-HL-1", HEALTH + "test_liveness_survives_a_dependency_outage[db]",
           _app(REFAPP_DEEP_LIVENESS="on"), "/health/live fails with the database: a DB outage restarts every pod"),
    Mutant("readiness-checks-nothing", "C-HL-2",
           HEALTH + "test_readiness_follows_its_dependencies[redis]",
           _app(REFAPP_READY_CHECKS="off"), "/health/ready answers 200 without checking dependencies"),
    Mutant("readiness-unbounded", "C-HL-2", HEALTH + "test_readiness_follows_its_dependencies[db]",
           _app(REFAPP_READY_TIMEOUT_MS="20000"), "the DB check waits 20 s: the probe hangs instead of 503"),
    Mutant("health-details-leaked", "C-HL-3", HEALTH + "test_only_internal_callers_see_details",
           _app(REFAPP_LEAK_HEALTH_DETAILS="on"), "external callers see the detailed health"),
    Mutant("health-not-rate-limited", "C-HL-4", HEALTH + "test_external_health_callers_are_rate_limited",
           _app(REFAPP_HEALTH_RATE_PER_MIN="0"), "external health callers are never limited"),
    Mutant("cache-prefix-off", "C-RD-1",
           REDIS + "test_two_apps_with_different_prefixes_never_see_each_others_keys",
           _app(REFAPP_CACHE_PREFIX_OFF="on"), "cache keys are written without a prefix"),
    Mutant("cache-prefix-empty", "C-RD-1",
           REDIS + "test_two_apps_with_different_prefixes_never_see_each_others_keys",
           {"app.env.CACHE_PREFIX": ""}, "the first app has an empty prefix: it can read the other's keys"),
    Mutant("redis-noeviction", "C-RD-2", REDIS + "test_writes_past_maxmemory_evict_instead_of_failing",
           {"redis.maxmemory_policy": "noeviction"}, "writes past maxmemory fail with OOM"),
    Mutant("redis-template-noeviction", "C-RD-2", REDIS + "test_writes_past_maxmemory_evict_instead_of_failing",
           {"redis.template": str(Path(__file__).with_name("templates") / "redis_noeviction.conf.j2")},
           "redis.conf hard-codes maxmemory-policy noeviction (the profile says allkeys-lru)"),
    Mutant("cache-without-ttl", "C-RD-3", REDIS + "test_every_cache_key_the_app_writes_has_a_ttl",
           _app(REFAPP_CACHE_TTL="0"), "cache keys are written without a TTL"),
    Mutant("cache-without-ttl-smoke", "C-RD-3",
           "scenarios/test_smoke.py::test_write_through_every_tier_and_read_it_back",
           _app(REFAPP_CACHE_TTL="0"), "the smoke write's cache key has no TTL"),
    Mutant("cache-without-ttl-audited", "C-RD-3", REDIS + "test_cache_keys_in_use_have_a_ttl",
           _app(REFAPP_CACHE_TTL="0"), "the keys the cache holds have no TTL (a read-only audit finds them)"),
    Mutant("running-cache-noeviction", "C-RD-2",
           "scenarios/test_configuration.py::test_the_servers_settings_keep_the_promises[C-RD-2]",
           {"redis.maxmemory_policy": "noeviction"}, "the running cache node has noeviction; allkeys-lru was promised"),
    Mutant("request-id-off", "C-OBS-1", OBS + "test_request_ids_are_generated_propagated_echoed_and_logged",
           _app(REFAPP_REQUEST_ID="off"), "no X-Request-ID is generated, echoed or logged"),
    Mutant("nginx-mirrors-traffic", "C-OBS-2", OBS + "test_metrics_counters_match_the_traffic",
           {"nginx.template": MIRROR}, "nginx mirrors every request onto the app: counts double"),
    Mutant("tracker-not-configured", "C-OBS-3", OBS + "test_errors_reach_the_tracker_with_the_request_id",
           {"app.env.SENTRY_DSN": ""}, "SENTRY_DSN unset: errors never reach the tracker"),
)

