"""The stack's Sentry-compatible sink (``app.sentry_sink = true``), and reading what it received.

The sink runs where the apps run (on Docker, in their pod), so their
``SENTRY_DSN`` reaches it on 127.0.0.1; it appends every envelope item to
``events.jsonl`` in its directory, which the test reads from the host.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from infratests.errors import InfratestsError
from infratests.stack.ports import LOOPBACK
from infratests.stack.readiness import http_probe
from infratests.stack.runtime import ON_HOST, Runtime
from infratests.stack.service import Endpoint, Service, ServiceSpec

__all__ = ["SENTRY", "SentryEvents", "sentry_spec"]

SENTRY = "sentry"
Item = dict[str, Any]


def sentry_spec(port: int, workdir: Path, runtime: Runtime = ON_HOST, name: str = SENTRY) -> ServiceSpec:
    """The sink on ``runtime.bind``:``port``; ``endpoint.url`` is the DSN, ``extra["events"]`` the file."""
    events = workdir / "events.jsonl"
    dsn = f"http://publickey@{LOOPBACK}:{port}/1"
    return ServiceSpec(
        name=name, kind="sentry",
        argv=(sys.executable, "-m", "infratests.stack.sentry_sink", "--host", runtime.bind,
              "--port", str(port), "--events", str(events)),
        endpoint=Endpoint(LOOPBACK, port, dsn, {"events": events.as_uri()}),
        probe=http_probe(f"http://{LOOPBACK}:{port}/health"), stop_signal=signal.SIGTERM, privileged_ok=True,
    )


class SentryEvents:
    """What the stack's sink received: every JSON line of every envelope, in arrival order."""

    def __init__(self, sink: Service) -> None:
        if "events" not in sink.endpoint.extra:
            raise InfratestsError(f"{sink.name} is not a Sentry sink of the stack", sink.name)
        self._path = Path(unquote(urlsplit(sink.endpoint.extra["events"]).path))

    def items(self) -> list[Item]:
        try:
            lines = self._path.read_text().splitlines()
        except FileNotFoundError:
            return []
        items = []
        for line in lines:
            with contextlib.suppress(ValueError):  # the line being appended right now
                items.append(json.loads(line))
        return items

    def wait_for(self, predicate: Callable[[Item], bool], timeout_s: float = 15.0) -> Item | None:
        """The first item matching ``predicate``, polling up to ``timeout_s``; None if none came."""
        deadline = time.monotonic() + timeout_s
        while True:
            found = next((item for item in self.items() if predicate(item)), None)
            if found is not None or time.monotonic() > deadline:
                return found
            time.sleep(0.05)
