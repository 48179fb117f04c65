"""The proxies of one server and the API's semantics over them (validation, errors)."""

from __future__ import annotations

from typing import Any

from .errors import ApiError
from .proxy import Proxy
from .toxics import STREAMS, TOXIC_TYPES, ToxicConfig

__all__ = ["Registry"]

_DEFAULT_LISTEN = "127.0.0.1:0"


def _bad_body() -> ApiError:
    return ApiError(400, "bad request body")


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise _bad_body()
    return body


def _proxy_fields(body: Any) -> tuple[str, str, str, bool]:
    """(name, listen, upstream, enabled) of a create/populate item, or ApiError 400."""
    body = _object(body)
    for key in ("name", "upstream"):
        if not isinstance(body.get(key), str) or not body[key]:
            raise ApiError(400, f"missing required field: {key}")
    listen = body.get("listen") or _DEFAULT_LISTEN
    enabled = body.get("enabled", True)
    if not isinstance(listen, str) or not isinstance(enabled, bool):
        raise _bad_body()
    Proxy(body["name"], listen, body["upstream"], enabled)  # validates both addresses
    return body["name"], listen, body["upstream"], enabled


def _attributes(kind: str, given: Any, current: dict[str, int]) -> dict[str, int]:
    """``current`` with ``given`` merged in; every attribute must be an integer."""
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise _bad_body()
    merged = dict(current)
    for key in TOXIC_TYPES[kind].ATTRIBUTES:
        value = given.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
            raise ApiError(400, f"bad request body: attribute {key} must be an integer")
        merged[key] = int(value)
    return merged


def _toxicity(value: Any, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _bad_body()
    return float(value)


class Registry:
    """Proxies by name; every method raises :class:`ApiError` the way Toxiproxy answers."""

    def __init__(self) -> None:
        self.proxies: dict[str, Proxy] = {}

    def get(self, name: str) -> Proxy:
        try:
            return self.proxies[name]
        except KeyError:
            raise ApiError(404, "proxy not found", subject=name) from None

    async def create(self, body: Any) -> Proxy:
        name, listen, upstream, enabled = _proxy_fields(body)
        if name in self.proxies:
            raise ApiError(409, "proxy already exists", subject=name)
        proxy = Proxy(name, listen, upstream, enabled)
        await proxy.start()
        self.proxies[name] = proxy
        return proxy

    async def populate(self, body: Any) -> list[Proxy]:
        """Create or replace many; an identical name+listen+upstream keeps its toxics."""
        if not isinstance(body, list):
            raise _bad_body()
        items = [_proxy_fields(item) for item in body]  # all validated before any change
        result = []
        for name, listen, upstream, enabled in items:
            old = self.proxies.get(name)
            if old is not None and (old.listen, old.upstream) == (listen, upstream):
                result.append(old)
                continue
            if old is not None:
                await self.delete(name)
            result.append(await self.create({"name": name, "listen": listen, "upstream": upstream, "enabled": enabled}))
        return result

    async def update(self, name: str, body: Any) -> Proxy:
        """Change listen/upstream (restarts, closing connections) and/or enabled."""
        proxy, body = self.get(name), _object(body)
        listen, upstream = body.get("listen") or proxy.listen, body.get("upstream") or proxy.upstream
        enabled = body.get("enabled", proxy.enabled)
        if not isinstance(listen, str) or not isinstance(upstream, str) or not isinstance(enabled, bool):
            raise _bad_body()
        Proxy(name, listen, upstream)  # validates the addresses before anything changes
        if (listen, upstream) != (proxy.listen, proxy.upstream):
            await proxy.stop()
            proxy.listen, proxy.upstream, proxy.enabled = listen, upstream, enabled
            await proxy.start()
        else:
            await proxy.set_enabled(enabled)
        return proxy

    async def delete(self, name: str) -> None:
        proxy = self.get(name)
        await proxy.stop()
        del self.proxies[name]

    async def reset(self) -> None:
        """Re-enable every proxy and remove every toxic."""
        for proxy in list(self.proxies.values()):
            for toxic in list(proxy.toxics):
                proxy.remove_toxic(toxic)
            await proxy.set_enabled(True)

    async def close(self) -> None:
        for proxy in list(self.proxies.values()):
            await proxy.stop()

    def toxic(self, name: str, toxic: str) -> ToxicConfig:
        try:
            return self.get(name).toxics[toxic]
        except KeyError:
            raise ApiError(404, "toxic not found", subject=toxic) from None

    def add_toxic(self, name: str, body: Any) -> ToxicConfig:
        proxy, body = self.get(name), _object(body)
        kind = body.get("type")
        if kind not in TOXIC_TYPES:
            raise ApiError(400, "invalid toxic type", subject=kind)
        stream = body.get("stream") or "downstream"
        if stream not in STREAMS:
            raise ApiError(400, "stream was invalid, can be either upstream or downstream")
        toxic = body.get("name") or f"{kind}_{stream}"
        if not isinstance(toxic, str):
            raise _bad_body()
        defaults = dict.fromkeys(TOXIC_TYPES[kind].ATTRIBUTES, 0)
        attributes = _attributes(kind, body.get("attributes"), defaults)
        config = ToxicConfig(toxic, kind, stream, _toxicity(body.get("toxicity"), 1.0), attributes)
        if toxic in proxy.toxics:
            raise ApiError(409, "toxic already exists", subject=toxic)
        proxy.add_toxic(config)
        return config

    def update_toxic(self, name: str, toxic: str, body: Any) -> ToxicConfig:
        """Merge ``attributes`` into the current values; ``toxicity`` replaces."""
        current, body = self.toxic(name, toxic), _object(body)
        config = ToxicConfig(
            current.name,
            current.type,
            current.stream,
            _toxicity(body.get("toxicity"), current.toxicity),
            _attributes(current.type, body.get("attributes"), current.attributes),
        )
        self.get(name).update_toxic(config)
        return config

    def delete_toxic(self, name: str, toxic: str) -> None:
        self.toxic(name, toxic)
        self.get(name).remove_toxic(toxic)
