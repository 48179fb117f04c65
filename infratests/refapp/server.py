"""Serve the app with uvicorn and own SIGTERM/SIGINT for a graceful drain (C-GS-1..3, C-GS-5).

On the first signal: readiness and every new request answer 503 with
``Connection: close`` at once; the listener keeps serving for the drain delay so
in-flight requests finish and the proxy moves new ones elsewhere; then uvicorn
stops (closing the listener, waiting for in-flight requests) and the lifespan
closes the pools; exit 0. A watchdog thread forces exit code 3 when all this
has not finished within the kill timeout. uvicorn binds its socket only after the
lifespan startup (pool open, schema) succeeded, so a connect means ready (C-GS-5).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from infratests.refapp.app import create_app
from infratests.refapp.settings import Settings
from infratests.refapp.state import AppState

__all__ = ["FORCED_EXIT_CODE", "RefappServer", "serve"]

log = logging.getLogger("refapp.server")
FORCED_EXIT_CODE = 3
_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class RefappServer(uvicorn.Server):
    """uvicorn.Server whose signal handling is the drain sequence instead of an immediate stop."""

    def __init__(self, config: uvicorn.Config, state: AppState) -> None:
        super().__init__(config)
        self.state = state
        self._drain_task: asyncio.Task[None] | None = None

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        for sig in _SIGNALS:
            loop.add_signal_handler(sig, self.begin_drain, sig)
        try:
            yield
        finally:
            for sig in _SIGNALS:
                loop.remove_signal_handler(sig)

    def begin_drain(self, sig: int = signal.SIGTERM) -> None:
        """Flip readiness, start the watchdog, and stop serving after the drain delay."""
        settings = self.state.settings
        if self.state.draining:
            log.info("signal during drain ignored", extra={"signal": signal.Signals(sig).name})
            return
        log.info(
            "drain started", extra={"signal": signal.Signals(sig).name, "in_flight": self.state.in_flight}
        )
        if not settings.drain:
            os._exit(0)  # mutant REFAPP_DRAIN=off: in-flight requests are dropped
        self.state.draining = True
        self.state.metrics.draining.set(1)
        if settings.force_exit:  # mutant REFAPP_FORCE_EXIT=off: a hung drain hangs forever (C-GS-3)
            _start_watchdog(settings.kill_timeout_ms / 1000)
        self._drain_task = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        settings = self.state.settings
        await asyncio.sleep(settings.drain_delay_ms / 1000)
        if settings.hang_on_drain:
            await asyncio.Event().wait()  # mutant: never finishes; the watchdog must fire
        log.info("drain delay over; stopping", extra={"in_flight": self.state.in_flight})
        self.should_exit = True


def _start_watchdog(timeout: float) -> None:
    """A thread, not a loop timer, so a blocked event loop cannot stop the forced exit (C-GS-3)."""

    def fire() -> None:
        logging.getLogger("refapp.server").error(
            "kill timeout exceeded; forcing exit", extra={"timeout_s": timeout}
        )
        for handler in logging.getLogger().handlers:
            handler.flush()
        os._exit(FORCED_EXIT_CODE)

    timer = threading.Timer(timeout, fire)
    timer.daemon = True
    timer.start()


def serve(settings: Settings, exec_started: float | None = None) -> int:
    """Run until drained; return the process exit code (0 clean, 1 startup failed)."""
    app, state = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        ws="websockets-sansio",
        lifespan="on",
        log_config=None,
        access_log=False,
        # request.client is the TCP peer, as the contract says (not X-Forwarded-For): the /api echo
        # names the upstream connection, which the keepalive check counts (C-NGX-3)
        proxy_headers=False,
        timeout_keep_alive=75,
        timeout_graceful_shutdown=None,
    )
    server = RefappServer(config, state)
    asyncio.run(_serve_logged(server, exec_started))
    return 0 if server.started else 1


async def _serve_logged(server: RefappServer, exec_started: float | None) -> None:
    async def announce() -> None:
        while not server.started and not server.should_exit:
            await asyncio.sleep(0.005)
        if server.started and exec_started is not None:
            log.info("listening", extra={"startup_ms": round((time.time() - exec_started) * 1000, 1)})

    watcher = asyncio.ensure_future(announce())
    try:
        await server.serve()
    finally:
        watcher.cancel()
