"""The Sentry-compatible sink takes envelopes as the SDKs send them: Content-Length (Python) or chunked
(JavaScript), plain, gzip or deflate."""

from __future__ import annotations

import gzip
import http.client
import json
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from infratests.stack.ports import free_port

ENVELOPE = b'{"event_id":"e1","dsn":"http://k@127.0.0.1/1"}\n{"type":"event"}\n' \
           b'{"event_id":"e1","tags":{"request_id":"rid-1"},"exception":{"values":[{"type":"Error"}]}}\n'
ENCODINGS: dict[str, Callable[[bytes], bytes]] = {"": lambda body: body, "gzip": gzip.compress,
                                                  "deflate": zlib.compress}


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    port, events = free_port(), tmp_path / "events.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "infratests.stack.sentry_sink", "--port", str(port),
                             "--events", str(events)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and "sentry sink on" in proc.stdout.readline()
    yield port, events
    proc.terminate()
    proc.wait(10)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("encoding", list(ENCODINGS), ids=["plain", "gzip", "deflate"])
def test_an_envelope_arrives_whatever_its_framing(sink: tuple[int, Path], chunked: bool, encoding: str) -> None:
    port, events = sink
    body = ENCODINGS[encoding](ENVELOPE)
    headers = {"Content-Type": "application/x-sentry-envelope",
               **({"Content-Encoding": encoding} if encoding else {})}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    for _ in range(2):  # the same connection serves the next envelope (keep-alive)
        pieces = [body[i:i + 17] for i in range(0, len(body), 17)] if chunked else body
        conn.request("POST", "/api/1/envelope/", body=pieces, headers=headers, encode_chunked=chunked)
        answer = conn.getresponse()
        answer.read()
        assert answer.status == 200
    deadline = time.monotonic() + 5
    while len(events.read_text().splitlines() if events.exists() else []) < 6 and time.monotonic() < deadline:
        time.sleep(0.02)
    items = [json.loads(line) for line in events.read_text().splitlines()]
    assert [item.get("tags", {}).get("request_id") for item in items].count("rid-1") == 2
