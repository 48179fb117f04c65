"""The stack: services wired as production wires them, started concurrently.

    nginx -> app-1..N -> PgBouncer -> Postgres
              app -> redis-1..3 (locks), redis-cache, dependency

Every link goes through the fault proxy unless the profile opts it out
(``faults.proxy = false`` or ``faults.direct_links = ["nginx->app-1", ...]``);
a proxy is named after the service it fronts. Independent services start
together; the app replicas start once their dependencies answer.
"""

from __future__ import annotations

import secrets
import socket
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Self
from urllib.parse import urlsplit

from infratests.config import Profile
from infratests.errors import ConfigError, InfratestsError, PortInUse, UnsupportedOperation
from infratests.secrets import register
from infratests.session import Session
from infratests.stack import app, backends, faultproxy, nginx, pgbouncer, postgres, redis, sentry
from infratests.stack.local import unprivileged_user
from infratests.stack.ports import LOOPBACK, free_port
from infratests.stack.service import Endpoint, Service, ServiceSpec
from infratests.stack.tls import TlsFiles, make_tls

if TYPE_CHECKING:
    from infratests.faults.network import NetworkFaults

__all__ = ["Stack", "link_names"]

_TEARDOWN_KILL = {"app", "dependency", "faultproxy"}


def link_names(profile: Profile) -> list[str]:
    """Every client->server link of the topology, e.g. ``app->pgbouncer``."""
    apps = app.replica_names(profile)
    servers = ["pgbouncer", *redis.lock_node_names(profile), redis.CACHE_NODE, "dependency"]
    return ["pgbouncer->postgres", *(f"app->{s}" for s in servers), *(f"nginx->{a}" for a in apps)]


class Stack:
    """A running stack; a context manager whose exit tears everything down."""

    def __init__(self, profile: Profile, session: Session, backend: str = "local", strict: bool = False) -> None:
        self.profile, self.session, self.strict = profile, session, strict
        self.drift: list[str] = []
        self.placement = backends.resolve(backend, profile, session)
        self.backend = self.placement.name
        self.ready_times: dict[str, float] = {}
        self._listen: dict[str, Endpoint] = {}
        self.services: dict[str, Service] = {}
        if self.external:
            self._attach()
            return
        self.health_secret = secrets.token_urlsafe(24)
        register(self.health_secret, profile.postgres.password, postgres.SUPERUSER_PASSWORD)
        self.tls = make_tls(session.dir / "tls")
        self._user = unprivileged_user(profile.run_as)
        self._proxied = self._proxied_links()
        try:
            self._build()
        except BaseException:
            self.placement.network.down()  # a pod's network is made while the specs are built
            raise

    @property
    def external(self) -> bool:
        """An environment the suite did not start: it is only talked to, never faulted or loaded hard."""
        return self.backend == "external"

    def _attach(self) -> None:
        """The external backend: the services of ``[external]``, the environment's own CA and secret."""
        import certifi

        from infratests.stack.external import external_services

        config = self.profile.external
        self.health_secret = config.health_secret
        register(config.health_secret)
        self.tls = TlsFiles(config.ca_file or Path(certifi.where()))
        self._user, self._proxied = None, set()
        self.services.update(external_services(self.profile))

    def __getitem__(self, name: str) -> Service:
        try:
            return self.services[name]
        except KeyError:
            raise InfratestsError(f"no service {name!r}; the stack has {', '.join(self.services)}",
                                  name) from None

    def __iter__(self) -> Iterator[Service]:
        return iter(self.services.values())

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The public HTTPS URL (nginx)."""
        return self["nginx"].endpoint.url

    @property
    def admin_dsn(self) -> str:
        """Postgres superuser DSN, direct (no proxy), for checks and resets; on an external environment
        the DSN the profile gives (a read-only role is enough for the checks that run there)."""
        if self.external:
            return self["postgres"].endpoint.url
        return postgres.superuser_dsn(self["postgres"].endpoint)

    @property
    def faults(self) -> NetworkFaults:
        """The network fault API on this stack's proxy."""
        from infratests.faults.network import NetworkFaults

        if self.external:
            raise UnsupportedOperation("faults are never injected into an environment the suite did not start",
                                       "faults")
        if "faultproxy" not in self.services:
            raise ConfigError("this stack has no fault proxy: set faults.proxy = true", "faults.proxy")
        endpoint = self["faultproxy"].endpoint
        return NetworkFaults(endpoint.host, endpoint.port)

    @property
    def proc_net(self) -> Path:
        """The /proc ``net`` directory of the namespace the servers' sockets live in."""
        table = self.placement.network.proc_net
        if table is None:
            raise UnsupportedOperation(f"the {self.backend} backend's network namespace cannot be read here",
                                       "proc_net")
        return table

    def link(self, client: str, server: str) -> Endpoint:
        """Where ``client`` reaches ``server``: the proxy's listener, or the server itself."""
        if f"{client}->{server}" in self._proxied:
            return self._listen[server]
        return self[server].endpoint

    def start(self, only: Collection[str] | None = None) -> Self:
        """Start every service (or ``only`` those), in dependency waves, each wave concurrently;
        record ready times. A subset serves tests that bring their own app processes."""
        unknown = set(only or ()) - set(self.services)
        if unknown:
            raise InfratestsError(f"no service {sorted(unknown)}; the stack has {', '.join(self.services)}",
                                  sorted(unknown))
        self._refuse_busy_ports()
        began = time.monotonic()
        self.placement.network.up(self.ports())
        apps = set(app.replica_names(self.profile))
        chosen = [s for s in self.services.values() if only is None or s.name in only]
        first = [s for s in chosen if s.name not in apps]
        second = [s for s in chosen if s.name in apps]
        for wave in (first, second):
            self._run_wave(wave, lambda s: self._start_one(s, began))
        self.ready_times["total"] = round(time.monotonic() - began, 3)
        if only is None and not self.external:  # an environment's servers are not the profile's to set
            self._compare_effective()
        return self

    def _compare_effective(self) -> None:
        """What the servers run with against the profile: each difference once (``drift``); an error
        when ``strict``."""
        from infratests.stack.effective import differences

        self.drift = differences(self)
        if self.drift and self.strict:
            raise ConfigError("the servers' effective configuration differs from the profile (strict): "
                              + "; ".join(self.drift), self.drift)

    def stop(self) -> None:
        """Stop everything; idempotent, and safe after a start that failed halfway."""
        def stop_one(service: Service) -> None:
            service.stop(graceful=service.kind not in _TEARDOWN_KILL, timeout=5.0)
        with ThreadPoolExecutor(max_workers=max(1, len(self.services))) as pool:
            list(pool.map(stop_one, self.services.values()))
        self.placement.network.down()

    def ports(self) -> list[int]:
        """Every port the stack listens on: services (with their extra listeners) and proxies."""
        endpoints = [*(service.endpoint for service in self), *self._listen.values()]
        extra = [urlsplit(url).port for endpoint in endpoints for url in endpoint.extra.values()]
        return sorted({endpoint.port for endpoint in endpoints} | {port for port in extra if port})

    def _refuse_busy_ports(self) -> None:
        """Before anything starts: every port the stack will listen on must be free."""
        if self.placement.network.is_up or self.external:
            return  # its ports are published, or it runs already: they answer
        for port in self.ports():
            try:
                socket.create_connection((LOOPBACK, port), timeout=0.2).close()
            except OSError:
                continue
            raise PortInUse(f"port {port} is already in use by another program; "
                            "stop it or start the stack again (ports are picked anew)", port)

    def _start_one(self, service: Service, began: float) -> None:
        service.start()
        self.ready_times[service.name] = round(time.monotonic() - began, 3)

    @staticmethod
    def _run_wave(services: list[Service], job: Callable[[Service], None]) -> None:
        with ThreadPoolExecutor(max_workers=max(1, len(services))) as pool:
            futures = [pool.submit(job, service) for service in services]
        errors = [future.exception() for future in futures if future.exception()]
        if errors:
            raise errors[0]  # type: ignore[misc]

    def _proxied_links(self) -> set[str]:
        links = link_names(self.profile)
        unknown = [link for link in self.profile.faults.direct_links if link not in links]
        if unknown:
            raise ConfigError(f"faults.direct_links: unknown link {unknown[0]!r}; links are "
                              f"{', '.join(links)}", "faults.direct_links")
        if not self.profile.faults.proxy:
            return set()
        return set(links) - set(self.profile.faults.direct_links)

    def _add(self, spec: ServiceSpec) -> Endpoint:
        self.services[spec.name] = self.placement.run(spec, self.session, self._user,
                                                      self.profile.startup_timeout_s)
        server = spec.name
        if any(link.endswith(f"->{server}") for link in self._proxied):
            port = free_port()
            self._listen[server] = Endpoint(LOOPBACK, port, f"proxy://{LOOPBACK}:{port}")
        return spec.endpoint

    def _workdir(self, name: str) -> Path:
        return self.session.service_dir(name)

    def _build(self) -> None:
        profile = self.profile
        runtime = self.placement.runtime
        if runtime.on_host:
            app.check_app_command(profile)
        peers = self.placement.network.internal_peers()
        self._add(postgres.postgres_spec(profile, free_port(), self._user, self._workdir("postgres"), runtime=runtime))
        self._add(pgbouncer.pgbouncer_spec(profile, free_port(), self.link("pgbouncer", "postgres"),
                                           self._workdir("pgbouncer"), runtime=runtime))
        for name in [*redis.lock_node_names(profile), redis.CACHE_NODE]:
            self._add(redis.redis_spec(profile, name, free_port(), self._workdir(name), runtime=runtime))
        self._add(app.dependency_spec(free_port(), self._workdir("dependency"), runtime=runtime))
        if profile.app.sentry_sink:
            self._add(sentry.sentry_spec(free_port(), self._workdir(sentry.SENTRY), runtime=runtime))
        for name in app.replica_names(profile):
            self._add(app.app_spec(profile, name, free_port(), self._app_links(peers), self._workdir(name),
                                   runtime=runtime))
        upstreams = [self.link("nginx", name) for name in app.replica_names(profile)]
        self._add(nginx.nginx_spec(profile, free_port(), free_port(), upstreams, self.tls,
                                   self._workdir("nginx"), runtime=runtime,
                                   internal_peers=peers))
        if self._listen:
            proxies = {name: (listen, self.services[name].endpoint) for name, listen in self._listen.items()}
            self._add(faultproxy.faultproxy_spec(free_port(), proxies, self._workdir("faultproxy"), runtime=runtime,
                                                 server=profile.faults.server))

    def _app_links(self, internal_peers: tuple[str, ...]) -> Mapping[str, str]:
        pg = self.profile.postgres
        bouncer = self.link("app", "pgbouncer")
        locks = [self.link("app", name) for name in redis.lock_node_names(self.profile)]
        cache = self.link("app", redis.CACHE_NODE)
        return {
            "DATABASE_URL": postgres.dsn(bouncer.port, pg.user, pg.password, pg.database),
            "REDIS_URL": f"redis://{cache.address}/0",
            "REDIS_LOCK_URLS": ",".join(f"redis://{node.address}/0" for node in locks),
            "DEPENDENCY_URL": f"http://{self.link('app', 'dependency').address}",
            app.HEALTH_SECRET_ENV: self.health_secret,
            **({"SENTRY_DSN": self[sentry.SENTRY].endpoint.url} if sentry.SENTRY in self.services else {}),
            **({"INTERNAL_PEERS": ",".join(internal_peers)} if internal_peers else {}),
        }
