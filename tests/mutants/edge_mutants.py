"""Mutants of the edge: graceful shutdown (C-GS) and the reverse proxy (C-NGX).

Each mutant is a broken nginx config (a copy of the built-in template with one
thing changed, in ``tests/mutants/nginx/``, or a profile number that breaks a
claim) or a reference-app knob; the meta-test runs the scenario against it and
asserts the scenario fails naming the claim.
"""

from __future__ import annotations

from pathlib import Path

from tests.mutants.mutant import Mutant

NGINX_MUTANTS = Path(__file__).with_name("nginx")
PROXY = "scenarios/test_proxy.py::"
GS = "scenarios/test_graceful_shutdown.py::"


def _nginx(name: str) -> dict[str, str]:
    return {"nginx.template": str(NGINX_MUTANTS / f"{name}.conf.j2")}


MUTANTS = (
    Mutant("nginx-no-http2", "C-NGX-1", PROXY + "test_http2_on_tls_and_plain_http_redirects_to_https",
           _nginx("no_http2"), "the TLS listener offers only HTTP/1.1"),
    Mutant("nginx-no-redirect", "C-NGX-1", PROXY + "test_http2_on_tls_and_plain_http_redirects_to_https",
           _nginx("no_redirect"), "plain HTTP is served, not redirected to HTTPS"),
    Mutant("nginx-gzip-off", "C-NGX-2", PROXY + "test_gzip_from_the_threshold_up_with_vary",
           _nginx("gzip_off"), "gzip is off"),
    Mutant("nginx-gzip-no-vary", "C-NGX-2", PROXY + "test_gzip_from_the_threshold_up_with_vary",
           _nginx("no_vary"), "gzipped answers lack Vary: Accept-Encoding"),
    Mutant("nginx-gzip-min-length-64", "C-NGX-2", PROXY + "test_gzip_from_the_threshold_up_with_vary",
           {"nginx.gzip_min_length": "64"}, "small JSON bodies are gzipped too"),
    Mutant("nginx-no-upstream-keepalive", "C-NGX-3", PROXY + "test_upstream_keepalive_reuses_few_connections",
           _nginx("no_keepalive"), "one upstream connection per request"),
    Mutant("nginx-no-rate-limit", "C-NGX-4",
           PROXY + "test_rate_limit_zones_answer_429_beyond_their_rate_and_spare_health",
           _nginx("no_rate_limit"), "no location applies limit_req"),
    Mutant("nginx-auth-rate-1000", "C-NGX-4",
           PROXY + "test_rate_limit_zones_answer_429_beyond_their_rate_and_spare_health",
           {"nginx.rate_auth_rps": "1000"}, "the auth zone allows 1000 r/s instead of 10"),
    Mutant("nginx-template-auth-rate-1000", "C-NGX-4",
           PROXY + "test_rate_limit_zones_answer_429_beyond_their_rate_and_spare_health",
           {"nginx.template": str(Path(__file__).with_name("templates") / "nginx_auth_rate_1000.conf.j2")},
           "nginx.conf hard-codes the auth zone at 1000 r/s (the profile says 10)"),
    Mutant("nginx-no-hsts", "C-NGX-5", PROXY + "test_security_headers_present_and_x_xss_protection_absent",
           _nginx("no_hsts"), "no Strict-Transport-Security header"),
    Mutant("nginx-x-xss-protection", "C-NGX-5",
           PROXY + "test_security_headers_present_and_x_xss_protection_absent",
           _nginx("x_xss_protection"), "the deprecated X-XSS-Protection header is sent"),
    Mutant("nginx-tls10", "C-NGX-5", PROXY + "test_only_tls_1_2_and_1_3_are_accepted",
           _nginx("tls10"), "TLS 1.0 and 1.1 are accepted"),
    Mutant("nginx-no-next-upstream", "C-NGX-6",
           PROXY + "test_killed_replica_is_routed_around_without_client_errors",
           _nginx("no_next_upstream"), "a dead upstream's error goes to the client"),
    Mutant("nginx-ws-no-upgrade", "C-NGX-6", PROXY + "test_websocket_upgrade_through_the_proxy",
           _nginx("ws_no_upgrade"), "/ws does not pass the Upgrade handshake upstream"),
    Mutant("nginx-static-short-cache", "C-NGX-7", PROXY + "test_static_assets_are_cached_long_and_immutable",
           _nginx("static_short_cache"), "static assets cached for an hour, not immutable"),
    Mutant("refapp-drain-off", "C-GS-1",
           GS + "test_sigterm_mid_load_finishes_in_flight_exits_zero_and_releases_db",
           {"app.env.REFAPP_DRAIN": "off"}, "SIGTERM exits at once, dropping in-flight requests"),
    Mutant("refapp-drain-off-sigint", "C-GS-1", GS + "test_sigint_drains_like_sigterm",
           {"app.env.REFAPP_DRAIN": "off"}, "SIGINT exits at once, dropping in-flight requests"),
    Mutant("refapp-drain-off-resets", "C-GS-2", GS + "test_draining_replica_answers_503_and_never_resets",
           {"app.env.REFAPP_DRAIN": "off"}, "SIGTERM closes the listener at once: clients are refused"),
    Mutant("refapp-no-forced-exit", "C-GS-3",
           GS + "test_a_drain_that_outlasts_the_kill_timeout_is_forced_to_exit",
           {"app.env.REFAPP_FORCE_EXIT": "off"},
           "no watchdog: a drain waits for a request longer than the kill timeout"),
    Mutant("refapp-no-forced-exit-hung", "C-GS-3",
           "tests/demonstrations/test_hung_drain.py::test_hung_drain_is_forced_to_exit_after_the_kill_timeout",
           {"app.env.REFAPP_FORCE_EXIT": "off"}, "no watchdog: a drain made to hang never exits"),
    Mutant("nginx-no-retry-on-503", "C-GS-4",
           GS + "test_rolling_restart_under_locust_load_has_zero_failures",
           _nginx("no_retry_503"), "a draining replica's 503 reaches the client"),
    Mutant("refapp-ready-early", "C-GS-5", GS + "test_replica_signals_ready_only_when_it_can_serve",
           {"app.env.REFAPP_READY_EARLY": "on"}, "answers /health 200 before its DB pool is open"),
)
