"""Each toxic measured on real sockets through the server under test to a local echo server."""

from __future__ import annotations

import socket
import statistics
import time
from typing import Any

import pytest
from toxiproxy import Toxiproxy

from .helpers import HOST, TcpServer, connect, recv_exact, round_trip


def _proxy(client: Toxiproxy) -> Any:
    return client.get_proxy("echo")


@pytest.mark.parametrize(("latency_ms", "samples"), [(50, 11), (200, 7), (500, 5)])
def test_latency_p50_within_5ms(
    client: Toxiproxy, echo_proxy: Any, echo: TcpServer, latency_ms: int, samples: int
) -> None:
    """p50 of the added delay is within ±5 ms; the plain path is sampled alongside so that
    scheduling noise on a busy machine is not counted as latency."""
    plain = client.create(upstream=echo.address, name="plain", listen=f"{HOST}:0")
    _proxy(client).add_toxic(type="latency", attributes={"latency": latency_ms})
    with connect(echo_proxy) as slow, connect(plain) as fast:
        pairs = [(round_trip(slow), round_trip(fast)) for _ in range(samples)]
    assert all(s * 1000 >= latency_ms - 1 for s, _ in pairs), pairs  # never early
    added = statistics.median(s - f for s, f in pairs) * 1000
    assert abs(added - latency_ms) <= 5, f"p50 added {added:.1f} ms for latency {latency_ms} ms: {pairs}"


def test_latency_jitter_bounds(client: Toxiproxy, echo_proxy: Any) -> None:
    _proxy(client).add_toxic(type="latency", attributes={"latency": 100, "jitter": 40})
    with connect(echo_proxy) as sock:
        rtts = [round_trip(sock) * 1000 for _ in range(12)]
    assert all(59 <= r for r in rtts), rtts  # never below 100 - 40
    assert all(r <= 180 for r in rtts), rtts  # slack above for a busy 2-core machine
    assert sum(r <= 145 for r in rtts) >= 10, rtts  # 100 + 40, 5 ms scheduling slack
    assert max(rtts) - min(rtts) > 10, f"no jitter seen: {rtts}"


def test_latency_on_upstream_stream(client: Toxiproxy, echo_proxy: Any) -> None:
    _proxy(client).add_toxic(type="latency", stream="upstream", attributes={"latency": 100})
    with connect(echo_proxy) as sock:
        assert 0.095 <= round_trip(sock) <= 0.2


def test_bandwidth_within_10_percent(client: Toxiproxy, echo_proxy: Any) -> None:
    """100 KB/s downstream: 200 kB take 2.0 s (± 10 %)."""
    _proxy(client).add_toxic(type="bandwidth", attributes={"rate": 100})
    payload = bytes(range(256)) * 800  # 204.8 kB
    with connect(echo_proxy) as sock:
        start = time.monotonic()
        sock.sendall(payload)
        assert recv_exact(sock, len(payload)) == payload
        elapsed = time.monotonic() - start
    expected = len(payload) / 100_000
    assert abs(elapsed - expected) <= 0.1 * expected, f"{elapsed:.2f}s, expected {expected:.2f}s"


def test_bandwidth_zero_stalls_until_removed(client: Toxiproxy, echo_proxy: Any) -> None:
    proxy = _proxy(client)
    proxy.add_toxic(type="bandwidth", attributes={"rate": 0})
    with connect(echo_proxy) as sock:
        sock.sendall(b"stalled")
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.recv(10)
        proxy.destroy_toxic("bandwidth_downstream")  # removal flushes what was held
        sock.settimeout(2)
        assert recv_exact(sock, 7) == b"stalled"


def test_timeout_drops_data_and_closes_when_idle(client: Toxiproxy, echo_proxy: Any) -> None:
    _proxy(client).add_toxic(type="timeout", stream="upstream", attributes={"timeout": 300})
    with connect(echo_proxy) as sock:
        for _ in range(4):  # each chunk restarts the idle timer
            sock.sendall(b"lost")
            time.sleep(0.15)
        last = time.monotonic()
        sock.sendall(b"lost")
        data = sock.recv(100)  # EOF: nothing of the data came back
        idle = time.monotonic() - last
    assert data == b""
    assert 0.28 <= idle <= 0.8, f"closed after {idle:.2f}s idle"


def test_timeout_zero_never_closes_and_removal_closes(client: Toxiproxy, echo_proxy: Any) -> None:
    proxy = _proxy(client)
    proxy.add_toxic(type="timeout", attributes={"timeout": 0})
    with connect(echo_proxy) as sock:
        sock.sendall(b"void")
        sock.settimeout(0.5)
        with pytest.raises(TimeoutError):
            sock.recv(10)
        proxy.destroy_toxic("timeout_downstream")
        sock.settimeout(2)
        assert sock.recv(10) == b""


def test_reset_peer_gives_econnreset(client: Toxiproxy, echo_proxy: Any) -> None:
    _proxy(client).add_toxic(type="reset_peer", attributes={"timeout": 100})
    with connect(echo_proxy) as sock:
        start = time.monotonic()
        sock.sendall(b"hello")
        with pytest.raises(ConnectionResetError):
            sock.recv(10)
    assert 0.09 <= time.monotonic() - start <= 1.0


def test_slicer_same_bytes_more_pieces(client: Toxiproxy, echo_proxy: Any) -> None:
    _proxy(client).add_toxic(type="slicer", attributes={"average_size": 10, "size_variation": 4, "delay": 3000})
    payload = bytes(range(256)) * 4
    with connect(echo_proxy) as sock:
        sock.sendall(payload)
        pieces = []
        while sum(map(len, pieces)) < len(payload):
            pieces.append(sock.recv(65536))
    assert b"".join(pieces) == payload
    assert len(pieces) >= 20, f"only {len(pieces)} pieces"
    assert max(map(len, pieces)) < 200


def test_limit_data_exact_bytes_then_eof(client: Toxiproxy, echo_proxy: Any) -> None:
    _proxy(client).add_toxic(type="limit_data", attributes={"bytes": 4})
    with connect(echo_proxy) as sock:
        sock.sendall(b"abcdefgh")
        assert recv_exact(sock, 100) == b"abcd"  # recv_exact stops at EOF


def test_slow_close_delays_close(client: Toxiproxy, echo_proxy: Any) -> None:
    def close_time() -> float:
        with connect(echo_proxy) as sock:
            round_trip(sock)
            start = time.monotonic()
            sock.shutdown(socket.SHUT_WR)  # echo server closes in turn
            assert sock.recv(10) == b""
            return time.monotonic() - start

    assert close_time() < 0.2
    _proxy(client).add_toxic(type="slow_close", attributes={"delay": 500})
    assert 0.49 <= close_time() <= 0.9
