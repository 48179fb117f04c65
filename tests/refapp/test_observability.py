"""Errors reach a local Sentry-compatible sink with the request id (C-OBS-3); stale DB connections (C-POOL-5)."""

from __future__ import annotations

import contextlib
import gzip
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import httpx
import psycopg
import pytest


class _Sink(BaseHTTPRequestHandler):
    """Accepts Sentry envelopes (POST /api/<project>/envelope/) and keeps their items."""

    received: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        encoding = self.headers.get("content-encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "br":
            import brotli

            body = brotli.decompress(body)
        for line in body.splitlines():
            with contextlib.suppress(ValueError):
                self.received.append(json.loads(line))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def sentry_sink():
    _Sink.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://publickey@127.0.0.1:{server.server_address[1]}/1", _Sink.received
    finally:
        server.shutdown()
        server.server_close()


def test_unhandled_error_reaches_the_tracker_with_request_id(start_app, sentry_sink):  # C-OBS-3
    dsn, received = sentry_sink
    rid = f"obs-{uuid.uuid4()}"
    with start_app(SENTRY_DSN=dsn) as app:
        assert httpx.get(app.url + "/boom", headers={"X-Request-ID": rid}).status_code == 500
        deadline = time.monotonic() + 15
        while not any(item.get("tags", {}).get("request_id") == rid for item in received):
            assert time.monotonic() < deadline, f"no event with request_id {rid}: {received!r}"
            time.sleep(0.05)
    event = next(item for item in received if item.get("tags", {}).get("request_id") == rid)
    assert event["exception"]["values"][-1]["type"] == "RuntimeError"
    assert event["contexts"]["request"]["path"] == "/boom"
    assert "publickey" not in app.log.read_text()


def test_killed_connections_are_replaced_without_failures(start_app, local_pg):  # C-POOL-5
    direct = local_pg["admin_dsn"]
    with start_app(DATABASE_URL=direct, INSTANCE="app-stale", REFAPP_POOL_MIN="4") as app:
        assert httpx.get(app.url + "/db/sleep?s=0").status_code == 200
        with psycopg.connect(direct, autocommit=True) as admin:
            killed = admin.execute(
                "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity"
                " WHERE application_name = 'app-stale'"
            ).fetchone()[0]
        assert killed >= 1  # the timeout argument waits until those backends are gone
        responses = [httpx.get(app.url + "/db/sleep?s=0") for _ in range(10)]
        codes = [r.status_code for r in responses]
        # the checkout check discards dead connections before use
        assert codes == [200] * 10, [r.text for r in responses]
