"""Prometheus metrics of one app process (C-OBS-2, C-CB-4), on a registry of its own."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

__all__ = ["CONTENT_TYPE", "Metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _CallbackCollector(Collector):
    """Gauges computed at scrape time, so pool and breaker states are never stale."""

    def __init__(
        self, pool_stats: Callable[[], dict[str, int] | None], breakers: Callable[[], dict[str, int]]
    ):
        self._pool_stats = pool_stats
        self._breakers = breakers

    def collect(self):  # type: ignore[no-untyped-def]
        pool = GaugeMetricFamily("db_pool_connections", "App DB pool connections by state", labels=["state"])
        for state, value in (self._pool_stats() or {}).items():
            pool.add_metric([state], value)
        yield pool
        breaker = GaugeMetricFamily(
            "circuit_breaker_state",
            "Circuit breaker state (0 closed, 1 open, 2 half-open)",
            labels=["service"],
        )
        for service, value in self._breakers().items():
            breaker.add_metric([service], value)
        yield breaker


class Metrics:
    """The app's metric objects; ``render()`` is the /metrics body."""

    def __init__(
        self, pool_stats: Callable[[], dict[str, int] | None], breakers: Callable[[], dict[str, int]]
    ):
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests_total", "HTTP requests", ["method", "route", "status"], registry=self.registry
        )
        self.duration = Histogram(
            "http_request_duration_seconds",
            "HTTP request duration",
            ["method", "route"],
            registry=self.registry,
        )
        self.locks = Counter(
            "lock_acquisitions_total", "Redlock acquisitions", ["result"], registry=self.registry
        )
        self.in_flight = Gauge("http_requests_in_flight", "Requests being handled", registry=self.registry)
        self.draining = Gauge(
            "app_draining", "1 while the process drains after SIGTERM", registry=self.registry
        )
        self.registry.register(_CallbackCollector(pool_stats, breakers))

    def render(self) -> bytes:
        """The exposition in Prometheus text format."""
        return generate_latest(self.registry)
