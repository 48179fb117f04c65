"""Pure ASGI middleware: drain gate (C-GS-2), request id (C-OBS-1), metrics (C-OBS-2), error capture (C-OBS-3)."""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from infratests.refapp.logs import request_id_var
from infratests.refapp.state import AppState

__all__ = ["RefappMiddleware", "incoming_request_id", "route_template"]

log = logging.getLogger("refapp.http")
_ALWAYS_SERVED = {"/health/live"}


def route_template(app: Any, scope: Scope) -> str:
    """The matched route's path template (bounded label cardinality), or "unmatched"."""
    for route in getattr(app, "routes", []):
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return str(getattr(route, "path", scope["path"]))
    return "unmatched"


def incoming_request_id(headers: list[tuple[bytes, bytes]]) -> str:
    """The client's X-Request-ID if it sent a sane one, else a fresh uuid4."""
    for name, value in headers:
        if name.lower() == b"x-request-id":
            text = value.decode("latin-1").strip()
            if 0 < len(text) <= 200 and text.isprintable():
                return text
    return str(uuid.uuid4())


class RefappMiddleware:
    """Wraps every HTTP request: gate while draining, id, access log line, metrics, 500 on crashes."""

    def __init__(self, app: ASGIApp, state: AppState, router: Any) -> None:
        self.app = app
        self.state = state
        self.router = router

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings = self.state.settings
        rid = incoming_request_id(scope["headers"]) if settings.request_id else ""
        token = request_id_var.set(rid)
        try:
            await self._handle(scope, receive, send, rid)
        finally:
            request_id_var.reset(token)

    async def _handle(self, scope: Scope, receive: Receive, send: Send, rid: str) -> None:
        started = time.perf_counter()
        status = {"code": 500, "sent": False}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"], status["sent"] = message["status"], True
                if rid:
                    message.setdefault("headers", [])
                    message["headers"] = list(message["headers"]) + [(b"x-request-id", rid.encode())]
            await send(message)

        self.state.in_flight += 1
        self.state.metrics.in_flight.inc()
        try:
            if self.state.draining and scope["path"] not in _ALWAYS_SERVED:
                await _reject_draining(send_wrapper)
            else:
                await self.app(scope, receive, send_wrapper)
        except Exception as exc:  # noqa: BLE001 (an app crash becomes a 500 + tracker event)
            self._capture(exc, rid, scope)
            if not status["sent"]:
                await _json(send_wrapper, 500, {"error": "internal error", "request_id": rid})
        finally:
            self.state.in_flight -= 1
            self.state.metrics.in_flight.dec()
            self._observe(scope, status["code"], time.perf_counter() - started)

    def _observe(self, scope: Scope, code: int, elapsed: float) -> None:
        route = route_template(self.router, scope)
        metrics = self.state.metrics
        metrics.requests.labels(scope["method"], route, str(code)).inc()
        metrics.duration.labels(scope["method"], route).observe(elapsed)
        log.info(
            "request",
            extra={
                "method": scope["method"],
                "path": scope["path"],
                "route": route,
                "status": code,
                "duration_ms": round(elapsed * 1000, 2),
            },
        )

    def _capture(self, exc: Exception, rid: str, scope: Scope) -> None:
        log.error("unhandled error", exc_info=exc, extra={"path": scope["path"]})
        sentry = self.state.sentry
        if sentry is not None:
            with sentry.new_scope() as sentry_scope:
                sentry_scope.set_tag("request_id", rid)
                sentry_scope.set_tag("instance", self.state.settings.instance)
                sentry_scope.set_context("request", {"method": scope["method"], "path": scope["path"]})
                sentry.capture_exception(exc)


async def _reject_draining(send: Send) -> None:
    """503 + Connection: close, so a proxy retries another upstream and this socket goes away (C-GS-2)."""
    await _json(
        send,
        503,
        {"status": "draining", "error": "draining"},
        extra=[(b"connection", b"close"), (b"retry-after", b"1")],
    )


async def _json(
    send: Send, status: int, body: dict[str, Any], extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    payload = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers + (extra or [])})
    await send({"type": "http.response.body", "body": payload})
