"""The proxies of one server and the API's semantics over them (validation, errors).

Checks run in Toxiproxy's order, so a body with several faults gets its answer:
a body that does not decode (wrong JSON types) is ``bad request body: …``
first; then missing fields, streams, toxic types, name conflicts, and last the
toxic's attributes.
"""

from __future__ import annotations

from typing import Any

from .errors import ApiError, PopulateError, Undecodable, bad_body
from .proxy import Proxy
from .toxics import STREAMS, TOXIC_TYPES, ToxicConfig

__all__ = ["Registry"]

# Toxiproxy listens on all interfaces when ``listen`` is missing; this suite binds loopback only.
_DEFAULT_LISTEN = "127.0.0.1:0"
_JSON_TYPES = {str: "string", bool: "bool", dict: "object", float: "number"}


def _object(body: Any, what: str) -> dict[str, Any]:
    """The body as an object: JSON null is an empty one (as Go decodes it), anything else a bad body."""
    if isinstance(body, Undecodable):
        raise body.error
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise bad_body(f"cannot unmarshal {_json_type(body)} into {what}")
    return body


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, int) and not isinstance(value, bool):
        return "number"
    return _JSON_TYPES.get(type(value), "value")


def _typed(body: dict[str, Any], key: str, kind: type, what: str) -> Any:
    """``body[key]`` when absent, null or of ``kind``; else a bad body naming the field."""
    value = body.get(key)
    if value is not None and (not isinstance(value, kind) or (kind is not bool and isinstance(value, bool))):
        raise bad_body(f"cannot unmarshal {_json_type(value)} into field {what}.{key} of type {_JSON_TYPES[kind]}")
    return value


def _proxy_fields(body: Any, where: str = "") -> tuple[str, str, str, bool]:
    """(name, listen, upstream, enabled) of a create/populate item, or ApiError 400."""
    body = _object(body, "Proxy")
    fields = {key: _typed(body, key, str, "Proxy") for key in ("name", "listen", "upstream")}
    enabled = _typed(body, "enabled", bool, "Proxy")
    for key in ("name", "upstream"):
        if not fields[key]:
            raise ApiError(400, f"missing required field: {key}{where}")
    return fields["name"], fields["listen"] or _DEFAULT_LISTEN, fields["upstream"], enabled is not False


def _attributes(kind: str, given: Any, current: dict[str, int]) -> dict[str, int]:
    """``current`` with ``given`` merged in; every attribute must be an integer."""
    merged = dict(current)
    for key in TOXIC_TYPES[kind].ATTRIBUTES:
        value = (given or {}).get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
            raise bad_body(f"cannot unmarshal {_json_type(value)} into attribute {key} of type int64")
        merged[key] = int(value)
    return merged


def _toxicity(body: dict[str, Any], default: float) -> float:
    value = body.get("toxicity")
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad_body(f"cannot unmarshal {_json_type(value)} into field toxicity of type float32")
    return float(value)


def _toxic_body(body: Any) -> dict[str, Any]:
    """A toxic's body as it decodes (strings, a number, an attributes object), else 400."""
    body = _object(body, "Toxic")
    for key in ("name", "type", "stream"):
        _typed(body, key, str, "Toxic")
    _typed(body, "attributes", dict, "Toxic")
    _toxicity(body, 1.0)
    return body


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
        """Create or replace many; an identical name+listen+upstream keeps its toxics.

        Every item is checked before any is created; a failure raises :class:`PopulateError`
        carrying the proxies created before it, as Toxiproxy answers.
        """
        result: list[Proxy] = []
        try:
            if isinstance(body, Undecodable):
                raise body.error
            if not isinstance(body, list | None):
                raise bad_body(f"cannot unmarshal {_json_type(body)} into []Proxy")
            items = [_proxy_fields(item, f" at proxy {i}") for i, item in enumerate(body or (), 1)]
            for name, listen, upstream, enabled in items:
                result.append(await self._add_or_replace(name, listen, upstream, enabled))
        except ApiError as error:
            raise PopulateError(error, [p.to_json() for p in result]) from None
        return result

    async def _add_or_replace(self, name: str, listen: str, upstream: str, enabled: bool) -> Proxy:
        old = self.proxies.get(name)
        if old is not None and (old.listen, old.upstream) == (listen, upstream):
            return old
        if old is not None:
            await self.delete(name)
        return await self.create({"name": name, "listen": listen, "upstream": upstream, "enabled": enabled})

    async def update(self, name: str, body: Any) -> Proxy:
        """Change listen/upstream (restarts, closing connections) and/or enabled."""
        proxy, body = self.get(name), _object(body, "Proxy")
        fields = {key: _typed(body, key, str, "Proxy") for key in ("name", "listen", "upstream")}
        listen, upstream = fields["listen"] or proxy.listen, fields["upstream"] or proxy.upstream
        enabled = _typed(body, "enabled", bool, "Proxy")
        enabled = proxy.enabled if enabled is None else enabled
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
        """Re-enable every proxy, then remove its toxics (a proxy that cannot listen stops the reset: 500)."""
        for proxy in list(self.proxies.values()):
            await proxy.set_enabled(True)
            for toxic in list(proxy.toxics):
                proxy.remove_toxic(toxic)

    async def close(self) -> None:
        for proxy in list(self.proxies.values()):
            await proxy.stop()

    def toxic(self, name: str, toxic: str) -> ToxicConfig:
        try:
            return self.get(name).toxics[toxic]
        except KeyError:
            raise ApiError(404, "toxic not found", subject=toxic) from None

    def add_toxic(self, name: str, body: Any) -> ToxicConfig:
        proxy, body = self.get(name), _toxic_body(body)
        kind, stream = body.get("type") or "", body.get("stream")
        stream = "downstream" if stream is None else stream
        if stream.lower() not in STREAMS:
            raise ApiError(400, "stream was invalid, can be either upstream or downstream")
        toxic = body.get("name") or f"{kind}_{stream}"
        if kind not in TOXIC_TYPES:
            raise ApiError(400, "invalid toxic type", subject=kind)
        if toxic in proxy.toxics:
            raise ApiError(409, "toxic already exists", subject=toxic)
        defaults = dict.fromkeys(TOXIC_TYPES[kind].ATTRIBUTES, 0)
        attributes = _attributes(kind, body.get("attributes"), defaults)
        config = ToxicConfig(toxic, kind, stream, _toxicity(body, 1.0), attributes)
        proxy.add_toxic(config)
        return config

    def update_toxic(self, name: str, toxic: str, body: Any) -> ToxicConfig:
        """Merge ``attributes`` into the current values; ``toxicity`` replaces."""
        current = self.toxic(name, toxic)
        body = _object(body, "Toxic")
        given = _typed(body, "attributes", dict, "Toxic")
        config = ToxicConfig(
            current.name,
            current.type,
            current.stream,
            _toxicity(body, current.toxicity),
            _attributes(current.type, given, current.attributes),
        )
        self.get(name).update_toxic(config)
        return config

    def delete_toxic(self, name: str, toxic: str) -> None:
        self.toxic(name, toxic)
        self.get(name).remove_toxic(toxic)
