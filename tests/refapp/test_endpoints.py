"""Endpoint contracts of the running app against real Postgres/PgBouncer/Redis (C-HL, C-OBS, C-RD, C-TX, C-NGX-7)."""

from __future__ import annotations

import json

import httpx
import pytest


@pytest.fixture(scope="module")
def app(start_app):
    with start_app() as running:
        yield running


def test_health_endpoints(app):  # C-HL-1, C-HL-2
    for path in ("/health", "/health/live", "/health/ready"):
        response = httpx.get(app.url + path)
        assert response.status_code == 200, (path, response.text)
    body = httpx.get(app.url + "/health/ready").json()
    assert body["dependencies"] == {"db": "ok", "redis": "ok"}
