"""Network faults on the proxied links, through the ``toxiproxy-python`` client.

``NetworkFaults(api_host, api_port)`` talks to any Toxiproxy API (ours or the
real server). Every fault method returns a :class:`Fault`: a context manager
that applies the fault on enter and heals it on exit, also when the body
raises (a nemesis heals in teardown too: see :meth:`NetworkFaults.heal_all`).
Fault names and their keyword parameters are the vocabulary of
:class:`infratests.faults.plan.FaultStep` (``faults.fault(kind, target, **params)``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import requests
from toxiproxy import Toxiproxy  # type: ignore[import-untyped]
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists  # type: ignore[import-untyped]

from ..errors import InfratestsError

__all__ = ["NetworkFaults", "Fault", "ProxyInfo", "ProxyFaultError", "UnknownProxy", "STREAMS"]

STREAMS = ("upstream", "downstream")


class ProxyFaultError(InfratestsError):
    """The proxy API refused or could not be reached; ``subject`` is the proxy name."""


class UnknownProxy(ProxyFaultError):
    """No proxy of that name; the message lists the known names."""


@dataclass(frozen=True)
class ProxyInfo:
    """One proxy as the API reports it."""

    name: str
    listen: str
    upstream: str
    enabled: bool


class Fault:
    """A fault on one proxy: ``apply()`` / ``heal()`` or ``with``; healing twice is harmless."""

    def __init__(self, target: str, description: str, apply: Callable[[], None], heal: Callable[[], None]) -> None:
        self.target, self.description = target, description
        self._apply, self._heal = apply, heal
        self.active = False

    def apply(self) -> Fault:
        self._apply()
        self.active = True
        return self

    def heal(self) -> None:
        if self.active:
            self.active = False
            self._heal()

    def __enter__(self) -> Fault:
        return self.apply()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.heal()

    def __repr__(self) -> str:
        return f"Fault({self.target!r}, {self.description})"


class NetworkFaults:
    """Typed faults over a Toxiproxy API at ``host:port``.

    toxiproxy-python keeps the API address in class attributes; it is set
    again before every call, so several instances may coexist (not threads).
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._client = Toxiproxy()

    def proxies(self) -> dict[str, ProxyInfo]:
        """Proxy name -> where it listens and where it forwards."""
        found = self._call("*", lambda c: c.proxies())
        return {n: ProxyInfo(n, p.listen, p.upstream, bool(p.enabled)) for n, p in found.items()}

    def heal_all(self) -> None:
        """Re-enable every proxy and remove every toxic (POST /reset)."""
        self._call("*", lambda c: c.reset())

    def latency(self, name: str, ms: int, jitter: int = 0, stream: str = "downstream", toxicity: float = 1.0) -> Fault:
        """Delay each chunk by ``ms`` ± ``jitter`` milliseconds."""
        return self.toxic(name, "latency", {"latency": ms, "jitter": jitter}, stream, toxicity)

    def bandwidth(self, name: str, kbps: int, stream: str = "downstream", toxicity: float = 1.0) -> Fault:
        """Throttle to ``kbps`` KB/s; 0 stalls all data until healed."""
        return self.toxic(name, "bandwidth", {"rate": kbps}, stream, toxicity)

    def timeout(self, name: str, ms: int, stream: str = "downstream", toxicity: float = 1.0) -> Fault:
        """Black-hole data; close after ``ms`` idle (0: never). Healing closes affected connections."""
        return self.toxic(name, "timeout", {"timeout": ms}, stream, toxicity)

    def slow_close(self, name: str, ms: int, stream: str = "downstream", toxicity: float = 1.0) -> Fault:
        """Hold a close back by ``ms``."""
        return self.toxic(name, "slow_close", {"delay": ms}, stream, toxicity)

    def reset_peer(self, name: str, after_ms: int = 0, stream: str = "downstream", toxicity: float = 1.0) -> Fault:
        """Reset (TCP RST) connections ``after_ms`` after their first data."""
        return self.toxic(name, "reset_peer", {"timeout": after_ms}, stream, toxicity)

    def slicer(
        self, name: str, average_size: int, size_variation: int = 0, delay_us: int = 0,
        stream: str = "downstream", toxicity: float = 1.0,
    ) -> Fault:
        """Deliver data in pieces of ``average_size`` ± ``size_variation`` bytes, ``delay_us`` apart."""
        attributes = {"average_size": average_size, "size_variation": size_variation, "delay": delay_us}
        return self.toxic(name, "slicer", attributes, stream, toxicity)

    def cut_after_bytes(self, name: str, n: int, stream: str = "downstream", toxicity: float = 1.0) -> Fault:
        """Close connections once ``n`` bytes have passed on ``stream``."""
        return self.toxic(name, "limit_data", {"bytes": n}, stream, toxicity)

    def down(self, name: str) -> Fault:
        """Disable the proxy: open connections close, new ones are refused."""
        self._require(name)

        def switch(enabled: bool) -> Callable[[], None]:
            def act(client: Toxiproxy) -> None:
                proxy = client.get_proxy(name)
                if proxy is None:
                    raise UnknownProxy(f"proxy {name!r} vanished", subject=name)
                if enabled:
                    proxy.enable()
                else:
                    proxy.disable()

            return lambda: self._call(name, act)

        return Fault(name, "down", switch(False), switch(True))

    def fault(self, kind: str, target: str, **params: Any) -> Fault:
        """The fault named ``kind`` (a method name above, e.g. ``"latency"``) with ``params``."""
        method = getattr(self, kind, None) if kind in _FAULT_METHODS else None
        if method is None:
            raise ProxyFaultError(f"unknown fault {kind!r}; known: {', '.join(_FAULT_METHODS)}", subject=kind)
        return method(target, **params)

    def toxic(self, name: str, kind: str, attributes: dict[str, int], stream: str, toxicity: float = 1.0) -> Fault:
        """Any toxic by its Toxiproxy type; it gets a unique name so faults can stack."""
        if stream not in STREAMS:
            raise ProxyFaultError(f"stream must be one of {STREAMS}, not {stream!r}", subject=name)
        self._require(name)
        toxic = f"infratests_{kind}_{stream}_{uuid.uuid4().hex[:8]}"
        body = {"name": toxic, "type": kind, "stream": stream, "toxicity": toxicity, "attributes": attributes}
        return Fault(
            name,
            f"{kind} {stream} {attributes} toxicity={toxicity}",
            lambda: self._call(name, lambda c: c.get_proxy(name).add_toxic(**body)),
            lambda: self._remove_toxic(name, toxic),
        )

    def _remove_toxic(self, name: str, toxic: str) -> None:
        try:
            self._call(name, lambda c: c.get_proxy(name).destroy_toxic(toxic))
        except ProxyFaultError as exc:
            if not isinstance(exc.__cause__, NotFound):  # already healed (e.g. heal_all)
                raise

    def _require(self, name: str) -> None:
        known = self._call(name, lambda c: c.proxies())
        if name not in known:
            raise UnknownProxy(f"no proxy named {name!r}; known proxies: {sorted(known)}", subject=name)

    def _call(self, name: str, action: Callable[[Toxiproxy], Any]) -> Any:
        self._client.update_api_consumer(self.host, self.port)
        try:
            return action(self._client)
        except (NotFound, ProxyExists, InvalidToxic) as exc:
            detail = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
            raise ProxyFaultError(f"proxy API refused ({name}): {detail}", subject=name) from exc
        except requests.RequestException as exc:
            raise ProxyFaultError(f"proxy API at {self.host}:{self.port} unreachable: {exc}", subject=name) from exc


_FAULT_METHODS = ("latency", "bandwidth", "timeout", "slow_close", "reset_peer", "slicer", "cut_after_bytes", "down")
