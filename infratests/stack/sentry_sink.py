"""A Sentry-compatible sink: accepts sentry-sdk envelopes and keeps them (C-OBS-3).

``with SentrySink() as sink:`` serves on an ephemeral 127.0.0.1 port in this
process and gives ``sink.dsn`` for the app's ``SENTRY_DSN``; ``sink.items()`` is
every JSON line of every envelope received (headers and items: events carry
``tags``, ``exception``, ``contexts``...), and ``sink.wait_for(predicate,
timeout_s)`` polls until one of them matches.

As a stack service (``app.sentry_sink = true``: it must share the apps'
network, a container pod on Docker) it runs as ``python -m
infratests.stack.sentry_sink --host H --port P --events FILE``, appending every
item to FILE as a JSON line; :mod:`infratests.stack.sentry` reads them back.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import signal
import threading
import time
import zlib
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

__all__ = ["SentrySink"]

Item = dict[str, Any]


class SentrySink:
    """An HTTP server on an ephemeral loopback port that stores what sentry-sdk sends it."""

    def __init__(self, project: int = 1, public_key: str = "publickey", host: str = "127.0.0.1",
                 port: int = 0, events: Path | None = None) -> None:
        self.project, self.public_key = project, public_key
        self._address, self._events = (host, port), events
        self._items: list[Item] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def dsn(self) -> str:
        if self._server is None:
            raise RuntimeError("the sink is not running: use it as a context manager")
        return f"http://{self.public_key}@127.0.0.1:{self._server.server_address[1]}/{self.project}"

    def __enter__(self) -> Self:
        self._server = ThreadingHTTPServer(self._address, _handler(self._store))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def items(self) -> list[Item]:
        with self._lock:
            return list(self._items)

    def wait_for(self, predicate: Callable[[Item], bool], timeout_s: float = 15.0) -> Item | None:
        """The first stored item matching ``predicate``, polling up to ``timeout_s``; None if none came."""
        deadline = time.monotonic() + timeout_s
        while True:
            found = next((item for item in self.items() if predicate(item)), None)
            if found is not None or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    def _store(self, body: bytes) -> None:
        with self._lock:
            for line in body.splitlines():
                with contextlib.suppress(ValueError):
                    parsed = json.loads(line)
                    if isinstance(parsed, dict):
                        self._items.append(parsed)
                        self._append(parsed)

    def _append(self, item: Item) -> None:
        if self._events is not None:
            with self._events.open("a") as out:
                out.write(json.dumps(item) + "\n")


def _decode(body: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    if encoding == "br":
        import brotli  # type: ignore[import-untyped]  # sentry-sdk compresses with it when installed

        return bytes(brotli.decompress(body))
    return body


def _handler(store: Callable[[bytes], None]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            store(_decode(body, self.headers.get("content-encoding", "")))
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

        def do_GET(self) -> None:  # noqa: N802 - readiness: any GET answers 200
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    return Handler


def main(argv: list[str] | None = None) -> None:
    """Serve until SIGTERM/SIGINT, appending every received item to ``--events``."""
    parser = argparse.ArgumentParser(prog="python -m infratests.stack.sentry_sink")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--events", type=Path, required=True)
    args = parser.parse_args(argv)
    stopped = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopped.set())
    with SentrySink(host=args.host, port=args.port, events=args.events):
        print(f"sentry sink on {args.host}:{args.port}", flush=True)
        stopped.wait()


if __name__ == "__main__":
    main()
