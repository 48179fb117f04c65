"""Prometheus scrapes of an app replica's ``/metrics`` (C-OBS-2, C-CB-4), parsed by prometheus_client."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from prometheus_client.parser import text_string_to_metric_families

__all__ = ["Samples", "scrape", "value"]

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
