"""The external backend: services of an environment the suite did not start (pre-deploy verification).

Each is an endpoint from the profile's ``[external]`` table behind the same
:class:`~infratests.stack.service.Service` API as a local process or a
container. The suite only talks to them: an operation a live environment must
not get (kill, pause, terminate, restart) raises
:class:`~infratests.errors.UnsupportedOperation`, which scenarios turn into a
skip with the reason. Their names are the topology's (``nginx``, ``app-1``,
``postgres``, ``pgbouncer``, ``redis-cache``, ``redis-1``...).
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Self
from urllib.parse import urlsplit

from infratests.config import Profile
from infratests.errors import ConfigError, ReadinessTimeout, UnsupportedOperation
from infratests.stack.service import Endpoint, Probe

if TYPE_CHECKING:
    from infratests.stack.topology import Stack

__all__ = ["ExternalService", "external_profile", "external_services"]


class ExternalService:
    """A service of a live environment: its endpoint and a probe; nothing is ever started or stopped."""

    def __init__(self, name: str, kind: str, endpoint: Endpoint, probe: Probe) -> None:
        self.name, self.kind = name, kind
        self._endpoint, self._probe = endpoint, probe

    def __repr__(self) -> str:
        return f"<ExternalService {self.name} {self._endpoint.address}>"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def endpoint(self) -> Endpoint:
        return self._endpoint

    def start(self) -> Self:
        """An external service is already running: check that it answers."""
        return self.wait_ready()

    def stop(self, graceful: bool = True, timeout: float = 10.0) -> None:
        """Nothing to stop: the suite did not start it."""

    def kill(self) -> None:
        self._refuse("killed")

    def pause(self) -> None:
        self._refuse("paused")

    def resume(self) -> None:
        self._refuse("resumed")

    def terminate(self, timeout: float = 30.0) -> int | None:
        self._refuse("terminated")
        return None

    def restart(self, down_for: float = 0.0) -> Self:
        self._refuse("restarted")
        return self

    def logs(self, lines: int = 50) -> str:
        return ""  # the environment's logs are its own

    def is_running(self) -> bool:
        return self.is_ready()

    def is_ready(self) -> bool:
        try:
            self._probe()
        except Exception:  # noqa: BLE001 - any failure to answer is "not ready"
            return False
        return True

    def wait_ready(self, timeout: float | None = None) -> Self:
        deadline = time.monotonic() + (timeout or 10.0)
        while True:
            try:
                self._probe()
                return self
            except Exception as error:  # noqa: BLE001 - retried until the deadline, then reported
                if time.monotonic() > deadline:
                    raise ReadinessTimeout(f"{self.name} at {self._endpoint.address} does not answer: {error!r}",
                                           self.name) from None
            time.sleep(0.2)

    def _refuse(self, what: str) -> None:
        raise UnsupportedOperation(f"{self.name} belongs to an environment the suite did not start: it is "
                                   f"never {what} (external backend)", self.name)


_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _strings(value: object) -> list[str]:
    return [str(item) for item in value] if isinstance(value, tuple) else [str(value)] if value else []


def external_services(profile: Profile) -> dict[str, ExternalService]:
    """The services ``[external]`` names, by their topology names; the public URL is required."""
    from infratests.stack.readiness import http_probe, sql_probe

    config = profile.external
    for field in dataclasses.fields(config):
        for value in _strings(getattr(config, field.name)):
            if unset := _VARIABLE.search(value):
                raise ConfigError(f"external.{field.name}: ${{{unset.group(1)}}} is not set in the environment: "
                                  "export it (CI: a secret)", f"external.{field.name}")
    if not config.url.startswith("https://"):
        raise ConfigError("external.url: name the environment's public HTTPS URL (--backend external)",
                          "external.url")
    http = config.http_url or f"http://{urlsplit(config.url).hostname}"
    ca = str(config.ca_file) if config.ca_file else None
    found = {"nginx": ExternalService("nginx", "nginx", _endpoint(config.url, {"http": http}),
                                      _answers(config.url, ca))}
    for index, url in enumerate(config.replicas, 1):
        found[f"app-{index}"] = ExternalService(f"app-{index}", "app", _endpoint(url),
                                                http_probe(url.rstrip("/") + profile.app.ready_path))
    for name, dsn, extra in (("postgres", config.postgres_dsn, {}),
                             ("pgbouncer", config.pgbouncer_dsn, {"admin": config.pgbouncer_admin_dsn})):
        if dsn:
            found[name] = ExternalService(name, name, _endpoint(dsn, {k: v for k, v in extra.items() if v}),
                                          sql_probe(dsn, timeout_s=5))
    for index, url in enumerate(config.redis_urls):
        name = "redis-cache" if index == 0 else f"redis-{index}"
        found[name] = ExternalService(name, "redis", _endpoint(url), _ping(url))
    return found


def _endpoint(url: str, extra: dict[str, str] | None = None) -> Endpoint:
    parts = urlsplit(url)
    default = {"https": 443, "http": 80, "postgresql": 5432, "postgres": 5432, "redis": 6379, "rediss": 6379}
    return Endpoint(parts.hostname or "", parts.port or default.get(parts.scheme, 0), url, extra or {})


def _answers(url: str, ca_file: str | None) -> Probe:
    """Any HTTP answer over TLS: the proxy is up (whatever its root path says)."""
    import ssl

    import httpx

    def probe() -> None:
        with httpx.Client(verify=ssl.create_default_context(cafile=ca_file), timeout=5.0) as client:
            client.get(url)
    return probe


def _ping(url: str) -> Callable[[], None]:
    def probe() -> None:
        import redis

        client = redis.Redis.from_url(url, socket_timeout=5.0)
        try:
            client.ping()
        finally:
            client.close()
    return probe


def external_profile(stack: Stack) -> str:
    """A profile (TOML) that points ``--backend external`` at ``stack``: its endpoints in ``[external]``,
    its app's capabilities and ready path, and its promises. It holds the stack's secrets: write it
    where only you can read it."""
    apps = [service.endpoint.url for service in stack if service.kind == "app"]
    redis_urls = [stack[name].endpoint.url for name in ("redis-cache", "redis-1", "redis-2", "redis-3")
                  if name in stack.services]
    external = {
        "url": stack.url, "http_url": stack["nginx"].endpoint.extra.get("http", ""), "ca_file": str(stack.tls.ca),
        "replicas": apps, "postgres_dsn": stack["postgres"].endpoint.url,
        "pgbouncer_dsn": stack["pgbouncer"].endpoint.url,
        "pgbouncer_admin_dsn": stack["pgbouncer"].endpoint.extra.get("admin", ""),
        "redis_urls": redis_urls, "health_secret": stack.health_secret,
    }
    lines = ["# The environment `infratests up` started, as an external backend sees it.", "", "[external]"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in external.items()]
    lines += ["", "[app]", f"ready_path = {json.dumps(stack.profile.app.ready_path)}",
              f"capabilities = {json.dumps(list(stack.profile.capabilities()))}", "", "[promises]"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in dataclasses.asdict(stack.profile.promises).items()]
    return "\n".join(lines) + "\n"
