"""The Toxiproxy HTTP API v2 over a small hand-written HTTP/1.1 server (keep-alive, JSON).

Answers as Toxiproxy's own server does where clients can see it: JSON bodies
and error shapes, ``404 page not found`` for an unknown path (a trailing slash
included), an empty 405 for a known path with another method, and 403 for
browsers (a ``Mozilla/`` user agent), which Toxiproxy refuses.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote

from .errors import ApiError, Undecodable
from .proxy import resolve_host
from .registry import Registry

__all__ = ["ApiServer", "VERSION"]

VERSION = "2.12.0"  # the Toxiproxy API this server implements (a source build of Toxiproxy says "git")
_MAX_BODY = 16 << 20
_REASONS = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 403: "Forbidden",
            404: "Not Found", 405: "Method Not Allowed", 409: "Conflict", 500: "Internal Server Error"}
Handler = Callable[..., Awaitable[tuple[int, Any]]]


class ApiServer:
    """Serves ``registry`` on host:port; one request at a time changes state (a lock)."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._lock = asyncio.Lock()
        self._server: asyncio.AbstractServer | None = None
        r = registry
        table: list[tuple[str, str, Handler]] = [
            ("GET", "/version", self._version),
            ("POST", "/reset", self._reset),
            ("GET", "/proxies", self._list),
            ("POST", "/proxies", self._create),
            ("POST", "/populate", self._populate),
            ("GET", "/proxies/([^/]+)", lambda n, b: self._ok(200, r.get(n).to_json())),
            ("POST|PATCH", "/proxies/([^/]+)", self._update),
            ("DELETE", "/proxies/([^/]+)", self._delete),
            ("GET", "/proxies/([^/]+)/toxics", self._toxics),
            ("POST", "/proxies/([^/]+)/toxics", lambda n, b: self._ok(200, r.add_toxic(n, b).to_json())),
            ("GET", "/proxies/([^/]+)/toxics/([^/]+)", lambda n, t, b: self._ok(200, r.toxic(n, t).to_json())),
            ("POST|PATCH", "/proxies/([^/]+)/toxics/([^/]+)",
             lambda n, t, b: self._ok(200, r.update_toxic(n, t, b).to_json())),
            ("DELETE", "/proxies/([^/]+)/toxics/([^/]+)", self._delete_toxic),
        ]
        self._routes = [(m, re.compile(f"^{p}$"), h) for m, p, h in table]

    async def start(self, host: str, port: int) -> tuple[str, int]:
        self._server = await asyncio.start_server(self._serve, resolve_host(host), port, reuse_address=True)
        return self._server.sockets[0].getsockname()[:2]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()

    async def dispatch(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        """(status, payload) for one request: a JSON value, None (no body) or ``str`` (plain text)."""
        path = path.split("?", 1)[0]
        allowed = False
        for methods, pattern, handler in self._routes:
            match = pattern.match(path)
            if match is None:
                continue
            allowed = True
            if method in methods.split("|"):
                async with self._lock:
                    try:
                        return await handler(*map(unquote, match.groups()), body)
                    except ApiError as exc:
                        return exc.status, exc.to_json()
        return (405, None) if allowed else (404, "404 page not found\n")

    @staticmethod
    async def _ok(status: int, body: Any) -> tuple[int, Any]:
        return status, body

    async def _version(self, _body: Any) -> tuple[int, Any]:
        return 200, {"version": VERSION}

    async def _reset(self, _body: Any) -> tuple[int, Any]:
        await self.registry.reset()
        return 204, None

    async def _list(self, _body: Any) -> tuple[int, Any]:
        return 200, {name: p.to_json() for name, p in self.registry.proxies.items()}

    async def _create(self, body: Any) -> tuple[int, Any]:
        return 201, (await self.registry.create(body)).to_json()

    async def _populate(self, body: Any) -> tuple[int, Any]:
        return 201, {"proxies": [p.to_json() for p in await self.registry.populate(body)] or None}

    async def _update(self, name: str, body: Any) -> tuple[int, Any]:
        return 200, (await self.registry.update(name, body)).to_json()

    async def _delete(self, name: str, _body: Any) -> tuple[int, Any]:
        await self.registry.delete(name)
        return 204, None

    async def _toxics(self, name: str, _body: Any) -> tuple[int, Any]:
        return 200, [t.to_json() for t in self.registry.get(name).toxic_list()]

    async def _delete_toxic(self, name: str, toxic: str, _body: Any) -> tuple[int, Any]:
        self.registry.delete_toxic(name, toxic)
        return 204, None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await self._one_request(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            writer.close()

    async def _one_request(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        head = await reader.readuntil(b"\r\n\r\n") if not reader.at_eof() else b""
        if not head:
            return False
        lines = head.decode("latin-1").split("\r\n")
        method, path, version = lines[0].split(" ", 2)
        headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
        raw = await _read_body(reader, headers)
        if headers.get("user-agent", "").startswith("Mozilla/"):
            status, payload = 403, "User agent not allowed\n"
        else:
            status, payload = await self._answer(method, path, raw)
        keep = headers.get("connection", "").lower() != "close" and version == "HTTP/1.1"
        writer.write(_response(status, payload, keep))
        await writer.drain()
        return keep

    async def _answer(self, method: str, path: str, raw: bytes) -> tuple[int, Any]:
        """Only the handlers that read a body answer one that does not decode (as Toxiproxy's)."""
        try:
            body = json.loads(raw) if raw.strip() else Undecodable("EOF")
        except ValueError as exc:
            body = Undecodable(str(exc))
        return await self.dispatch(method, path, body)


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        parts = []
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
        await reader.readuntil(b"\r\n")
        return b"".join(parts)
    length = int(headers.get("content-length", "0") or 0)
    if length > _MAX_BODY:
        raise ValueError("body too large")
    return await reader.readexactly(length) if length else b""


def _response(status: int, payload: Any, keep: bool) -> bytes:
    if payload is None or status == 204:
        body, kind = b"", ""
    elif isinstance(payload, str):
        body, kind = payload.encode(), "text/plain; charset=utf-8"
    else:
        body, kind = json.dumps(payload, separators=(",", ":")).encode(), "application/json"
    head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}", f"Content-Length: {len(body)}",
            f"Connection: {'keep-alive' if keep else 'close'}"]
    if kind:
        head.append(f"Content-Type: {kind}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body
