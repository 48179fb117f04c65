"""NetworkFaults: typed faults that apply on enter and heal on exit, through toxiproxy-python."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest
import requests
from toxiproxy import Toxiproxy

from infratests.errors import InfratestsError
from infratests.faults import NetworkFaults, ProxyFaultError, ProxyInfo, UnknownProxy

from .helpers import HOST, ServerProcess, connect, recv_exact, round_trip


@pytest.fixture
def faults(server: ServerProcess, echo_proxy: Any) -> NetworkFaults:
    return NetworkFaults(server.host, server.port)


def _toxics(server: ServerProcess) -> list[dict[str, Any]]:
    return requests.get(server.url + "/proxies/echo/toxics").json()


def test_proxies_lists_names(faults: NetworkFaults, echo_proxy: Any) -> None:
    assert faults.proxies() == {"echo": ProxyInfo("echo", echo_proxy.listen, echo_proxy.upstream, True)}


def test_latency_context_applies_and_heals(faults: NetworkFaults, echo_proxy: Any, server: ServerProcess) -> None:
    with connect(echo_proxy) as sock:
        with faults.latency("echo", ms=200, jitter=0) as fault:
            assert fault.active and len(_toxics(server)) == 1
            assert 0.19 <= round_trip(sock) <= 0.4
        assert _toxics(server) == [] and not fault.active
        assert round_trip(sock) < 0.1


def test_fault_heals_when_body_raises(faults: NetworkFaults, server: ServerProcess) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        with faults.bandwidth("echo", kbps=0):
            raise RuntimeError("boom")
    assert _toxics(server) == []
    with pytest.raises(RuntimeError):
        with faults.down("echo"):
            raise RuntimeError("boom")
    assert requests.get(server.url + "/proxies/echo").json()["enabled"] is True


def test_down_refuses_then_recovers(faults: NetworkFaults, echo_proxy: Any) -> None:
    host, port = echo_proxy.listen.rsplit(":", 1)
    with faults.down("echo"):
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((host, int(port)), timeout=2)
    with connect(echo_proxy) as sock:
        assert round_trip(sock) < 0.5


def test_every_fault_kind_maps_to_a_toxic(faults: NetworkFaults, server: ServerProcess) -> None:
    cases = {
        "latency": ({"ms": 5, "jitter": 1}, "latency", {"latency": 5, "jitter": 1}),
        "bandwidth": ({"kbps": 7}, "bandwidth", {"rate": 7}),
        "timeout": ({"ms": 9}, "timeout", {"timeout": 9}),
        "slow_close": ({"ms": 11}, "slow_close", {"delay": 11}),
        "reset_peer": ({"after_ms": 13}, "reset_peer", {"timeout": 13}),
        "slicer": ({"average_size": 3, "size_variation": 1, "delay_us": 2}, "slicer",
                   {"average_size": 3, "size_variation": 1, "delay": 2}),
        "cut_after_bytes": ({"n": 17, "stream": "upstream"}, "limit_data", {"bytes": 17}),
    }
    for kind, (params, toxic_type, attributes) in cases.items():
        with faults.fault(kind, "echo", **params):
            (toxic,) = _toxics(server)
            assert (toxic["type"], toxic["attributes"]) == (toxic_type, attributes)
            assert toxic["stream"] == params.get("stream", "downstream")
        assert _toxics(server) == []


def test_faults_stack_and_heal_all(faults: NetworkFaults, echo_proxy: Any, server: ServerProcess) -> None:
    first = faults.latency("echo", ms=50).apply()
    faults.latency("echo", ms=50).apply()  # same kind twice: unique toxic names
    faults.down("echo").apply()
    assert len(_toxics(server)) == 2
    faults.heal_all()
    assert _toxics(server) == [] and faults.proxies()["echo"].enabled
    first.heal()  # healing a fault that heal_all already removed is harmless


def test_cut_after_bytes_on_the_wire(faults: NetworkFaults, echo_proxy: Any) -> None:
    with faults.cut_after_bytes("echo", 4), connect(echo_proxy) as sock:
        sock.sendall(b"abcdefgh")
        assert recv_exact(sock, 8) == b"abcd"


def test_reset_peer_on_the_wire(faults: NetworkFaults, echo_proxy: Any) -> None:
    with faults.reset_peer("echo", after_ms=0), connect(echo_proxy) as sock:
        sock.sendall(b"x")
        with pytest.raises(ConnectionResetError):
            sock.recv(10)


def test_unknown_proxy_names_known_ones(faults: NetworkFaults) -> None:
    with pytest.raises(UnknownProxy, match=r"'redis-9'.*\['echo'\]") as info:
        faults.latency("redis-9", ms=10)
    assert isinstance(info.value, InfratestsError) and info.value.subject == "redis-9"
    with pytest.raises(UnknownProxy):
        faults.down("redis-9")


def test_bad_arguments_are_typed_errors(faults: NetworkFaults) -> None:
    with pytest.raises(ProxyFaultError):
        faults.latency("echo", ms=10, stream="sideways")
    with pytest.raises(ProxyFaultError, match="unknown fault"):
        faults.fault("meteor", "echo")


def test_unreachable_api_is_a_typed_error(client: Toxiproxy) -> None:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port = s.getsockname()[1]
    start = time.monotonic()
    with pytest.raises(ProxyFaultError, match="unreachable"):
        NetworkFaults(HOST, port).proxies()
    assert time.monotonic() - start < 5
