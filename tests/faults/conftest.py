"""Fixtures: the Toxiproxy server under test (ours, or ``$INFRATESTS_TOXIPROXY_SERVER``) as a real
subprocess, and local echo / sink servers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from toxiproxy import Toxiproxy

from .helpers import HOST, ServerProcess, TcpServer, echo_handler, hold_handler, toxiproxy_process


@pytest.fixture(scope="session")
def server() -> Iterator[ServerProcess]:
    with toxiproxy_process() as srv:
        yield srv


@pytest.fixture(scope="session")
def echo() -> Iterator[TcpServer]:
    srv = TcpServer(echo_handler)
    yield srv
    srv.close()


@pytest.fixture
def holder() -> Iterator[TcpServer]:
    srv = TcpServer(hold_handler)
    yield srv
    srv.close()


@pytest.fixture
def client(server: ServerProcess) -> Iterator[Toxiproxy]:
    """toxiproxy-python pointed at the server under test; every proxy is deleted afterwards."""
    tp = Toxiproxy()
    tp.update_api_consumer(server.host, server.port)
    tp.destroy_all()
    yield tp
    tp.update_api_consumer(server.host, server.port)
    tp.destroy_all()


@pytest.fixture
def echo_proxy(client: Toxiproxy, echo: TcpServer) -> Any:
    """A proxy to the echo server; connect with ``connect(proxy)``."""
    return client.create(upstream=echo.address, name="echo", listen=f"{HOST}:0")
