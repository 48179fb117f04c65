"""Prometheus scrapes of an app replica's ``/metrics`` (C-OBS-2, C-CB-4), parsed by prometheus_client."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from prometheus_client.parser import text_string_to_metric_families

__all__ = ["Samples", "request_count", "scrape", "value"]

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: httpx.Client, path: str = "/metrics") -> Samples:
    """Every sample of one scrape, keyed by (sample name, labels); raises on a non-200 answer."""
    response = client.get(path)
    response.raise_for_status()
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, labels: Mapping[str, str] | None = None,
          default: float = 0.0) -> float:
    """The sum of ``name``'s samples whose labels include ``labels`` (``default`` if none match)."""
    wanted = set((labels or {}).items())
    found = [v for (sample, have), v in samples.items() if sample == name and wanted <= have]
    return sum(found) if found else default


_ROUTE_LABELS = ("route", "path", "handler", "endpoint")
_STATUS_LABELS = ("status", "code", "status_code")


def request_count(samples: Samples, path: str, name: str = "http_requests_total", method: str = "GET",
                  status: str | None = "200") -> float:
    """Requests to ``path`` counted by ``name``, whichever label names the app uses for the route
    (``route``, ``path``, ``handler``) and the status (``status``, ``code``); the method and status
    must match where the app labels them (``status=None``: any)."""
    total = 0.0
    for (sample, labels), number in samples.items():
        have = dict(labels)
        if sample != name or path not in (have.get(label) for label in _ROUTE_LABELS):
            continue
        if have.get("method", method).upper() != method:
            continue
        statuses = [have[label] for label in _STATUS_LABELS if label in have]
        if status is None or not statuses or statuses[0] == status:
            total += number
    return total
