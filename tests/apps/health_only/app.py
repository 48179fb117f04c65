"""The smallest app the suite can test: it answers its health endpoints and nothing else.

No database, no Redis, no metrics: every scenario either judges the
infrastructure alone (and must pass with this app) or needs a capability this
app does not declare (and must skip). Python's standard library only.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HEALTH = {"/health", "/health/live", "/health/ready"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        known = self.path.split("?", 1)[0] in HEALTH
        body = json.dumps({"status": "ok", "timestamp": time.time()} if known else {"error": "not found"}).encode()
        self.send_response(200 if known else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET  # noqa: N815 - any method gets an answer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the http.server API
        print(json.dumps({"msg": "request", "line": format % args}), flush=True)


def main() -> None:
    server = ThreadingHTTPServer((os.environ.get("HOST", "127.0.0.1"), int(os.environ["PORT"])), Handler)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    stop.wait()
    server.shutdown()


if __name__ == "__main__":
    main()
