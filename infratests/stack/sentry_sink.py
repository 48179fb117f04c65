"""A Sentry-compatible sink process: accepts SDK envelopes and appends them to a file (C-OBS-3).

Envelopes arrive as the SDKs send them: with Content-Length or chunked (the
JavaScript SDK), plain or gzip/deflate/brotli-encoded.

``python -m infratests.stack.sentry_sink --host H --port P --events FILE`` runs
as a stack service (``app.sentry_sink = true``: it must share the apps'
network, a container pod on Docker). Every JSON line of every envelope
received (headers and items: events carry ``tags``, ``exception``,
``contexts``...) is appended to FILE as one line; :mod:`infratests.stack.sentry`
reads them back.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import signal
import threading
import zlib
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

__all__ = ["main"]


def _appender(events: Path) -> Callable[[bytes], None]:
    """Stores an envelope body: each JSON object line, one line each, in arrival order."""
    lock = threading.Lock()

    def store(body: bytes) -> None:
        with lock, events.open("a") as out:
            for line in body.splitlines():
                with contextlib.suppress(ValueError):
                    parsed = json.loads(line)
                    if isinstance(parsed, dict):
                        out.write(json.dumps(parsed) + "\n")
    return store


def _decode(body: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    if encoding == "br":
        import brotli  # type: ignore[import-untyped]  # sentry-sdk compresses with it when installed

        return bytes(brotli.decompress(body))
    return body


def _body(handler: BaseHTTPRequestHandler) -> bytes:
    """The request body, sent with Content-Length (Python SDK) or chunked (JavaScript SDK)."""
    if "chunked" not in handler.headers.get("transfer-encoding", "").lower():
        return handler.rfile.read(int(handler.headers.get("content-length", 0)))
    chunks: list[bytes] = []
    while True:
        size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while handler.rfile.readline().strip():  # trailer fields, then the empty line
                pass
            return b"".join(chunks)
        chunks.append(handler.rfile.read(size))
        handler.rfile.readline()  # the CRLF after each chunk


def _handler(store: Callable[[bytes], None]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the SDKs' transports expect

        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            store(_decode(_body(self), self.headers.get("content-encoding", "")))
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", "2")
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
    server = ThreadingHTTPServer((args.host, args.port), _handler(_appender(args.events)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"sentry sink on {args.host}:{args.port}", flush=True)
    stopped.wait()
    server.shutdown()
    server.server_close()


if __name__ == "__main__":
    main()
