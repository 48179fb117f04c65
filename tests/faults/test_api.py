"""Conformance with Toxiproxy's HTTP API v2 (toxiproxy-api.md), via toxiproxy-python and raw HTTP.

The same tests run against our server and against Toxiproxy's own
(``$INFRATESTS_TOXIPROXY_SERVER``): they hold each to the documented shapes and
to Toxiproxy's own error messages (its api.go constants), never to one
server's wording of a detail (what a ``bad request body: …`` names, the
version string).
"""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
import requests
from toxiproxy import Toxiproxy
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists

from .helpers import HOST, ServerProcess, TcpServer, connect, free_port, round_trip, toxiproxy_process

PROXY_KEYS = ("name", "listen", "upstream", "enabled", "toxics")


def _error(resp: requests.Response, status: int, message: str) -> None:
    """Toxiproxy's error shape; ``message`` exact, or a prefix when it ends with ``: …``."""
    assert resp.status_code == status
    body = resp.json()
    assert body["status"] == status and isinstance(body["error"], str)
    if message.endswith(": …"):
        assert body["error"].startswith(message[:-1]), body
    else:
        assert body["error"] == message, body


def _documented(proxy: dict[str, Any]) -> dict[str, Any]:
    """A proxy body's documented fields (Toxiproxy adds ``"Logger": {}``; clients ignore it)."""
    return {key: proxy[key] for key in PROXY_KEYS}


def test_version(client: Toxiproxy, server: ServerProcess) -> None:
    """A JSON object with the version as a string ("2.12.0" for ours and releases, "git" for a source build)."""
    version = json.loads(client.version())
    assert set(version) == {"version"} and isinstance(version["version"], str) and version["version"]


def test_create_get_list_delete(client: Toxiproxy, echo: TcpServer, server: ServerProcess) -> None:
    proxy = client.create(upstream=echo.address, name="p1", listen=f"{HOST}:0")
    host, port = proxy.listen.rsplit(":", 1)
    assert host == HOST and int(port) > 0  # the real bound address, not :0
    assert proxy.enabled is True and proxy.upstream == echo.address
    body = requests.get(f"{server.url}/proxies/p1").json()
    assert _documented(body) == {"name": "p1", "listen": proxy.listen, "upstream": echo.address, "enabled": True,
                                 "toxics": []}
    assert set(client.proxies()) == {"p1"}
    assert client.get_proxy("p1").listen == proxy.listen
    assert proxy.destroy() is True
    assert client.proxies() == {}
    with pytest.raises(NotFound):
        proxy.destroy()


def test_create_errors(client: Toxiproxy, echo: TcpServer, server: ServerProcess) -> None:
    url = server.url + "/proxies"
    created = requests.post(url, json={"name": "p", "upstream": echo.address, "listen": f"{HOST}:0"})
    assert created.status_code == 201
    _error(requests.post(url, json={"name": "p", "upstream": echo.address}), 409, "proxy already exists")
    _error(requests.post(url, json={"upstream": echo.address}), 400, "missing required field: name")
    _error(requests.post(url, json={"name": "q"}), 400, "missing required field: upstream")
    _error(requests.post(url, data="{not json"), 400, "bad request body: …")
    _error(requests.post(url, data=""), 400, "bad request body: …")
    _error(requests.post(url, json={"name": 5, "upstream": echo.address}), 400, "bad request body: …")
    busy = created.json()["listen"]
    conflict = requests.post(url, json={"name": "q", "upstream": echo.address, "listen": busy})
    assert conflict.status_code == 500 and conflict.json()["status"] == 500
    _error(requests.get(server.url + "/proxies/nope"), 404, "proxy not found")
    _error(requests.delete(server.url + "/proxies/nope"), 404, "proxy not found")
    with pytest.raises(ProxyExists):
        client.create(upstream=echo.address, name="p")


def test_populate_keeps_replaces_and_validates_first(client: Toxiproxy, echo: TcpServer, server: ServerProcess) -> None:
    url = server.url + "/populate"
    first = requests.post(url, json=[{"name": "a", "upstream": echo.address, "listen": f"{HOST}:0"},
                                     {"name": "b", "upstream": echo.address, "listen": f"{HOST}:0"}])
    assert first.status_code == 201
    listens = {p["name"]: p["listen"] for p in first.json()["proxies"]}
    client.get_proxy("a").add_toxic(type="latency", attributes={"latency": 10})
    client.get_proxy("b").add_toxic(type="latency", attributes={"latency": 10})
    second = requests.post(url, json=[{"name": "a", "upstream": echo.address, "listen": listens["a"]},
                                      {"name": "b", "upstream": f"{HOST}:1", "listen": listens["b"]}])
    assert second.status_code == 201
    assert [t["type"] for t in requests.get(server.url + "/proxies/a/toxics").json()] == ["latency"]
    b = requests.get(server.url + "/proxies/b").json()
    assert b["upstream"] == f"{HOST}:1" and b["toxics"] == []  # replaced: toxics gone
    bad = requests.post(url, json=[{"name": "c", "upstream": echo.address, "listen": f"{HOST}:0"}, {"name": "d"}])
    _error(bad, 400, "missing required field: …")  # Toxiproxy adds which item: "… upstream at proxy 2"
    assert bad.json()["proxies"] is None and "c" not in client.proxies()  # nothing created
    not_a_list = requests.post(url, json={"name": "x"})
    _error(not_a_list, 400, "bad request body: …")
    assert not_a_list.json()["proxies"] is None


def test_enable_disable_via_post(client: Toxiproxy, echo_proxy: object, server: ServerProcess) -> None:
    proxy = client.get_proxy("echo")
    proxy.disable()
    assert client.get_proxy("echo").enabled is False
    host, port = proxy.listen.rsplit(":", 1)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, int(port)), timeout=2)
    proxy.enable()
    assert client.get_proxy("echo").enabled is True
    with connect(proxy) as sock:  # listens again on the same address
        assert round_trip(sock) < 1.0
    patched = requests.patch(server.url + "/proxies/echo", json={"enabled": False})
    assert patched.status_code == 200 and patched.json()["enabled"] is False
    _error(requests.post(server.url + "/proxies/nope", json={"enabled": True}), 404, "proxy not found")


def test_update_upstream_restarts(client: Toxiproxy, echo_proxy: object, server: ServerProcess) -> None:
    proxy = client.get_proxy("echo")
    sock = connect(proxy)
    round_trip(sock)
    resp = requests.post(server.url + "/proxies/echo", json={"upstream": f"{HOST}:1"})
    assert resp.status_code == 200 and resp.json()["upstream"] == f"{HOST}:1"
    assert resp.json()["listen"] == proxy.listen  # missing keys keep their value
    sock.settimeout(3)
    try:
        assert sock.recv(10) == b""
    except ConnectionResetError:
        pass  # closed either way
    sock.close()


def test_toxics_crud(client: Toxiproxy, echo_proxy: object, server: ServerProcess) -> None:
    proxy = client.get_proxy("echo")
    base = server.url + "/proxies/echo/toxics"
    proxy.add_toxic(type="latency", attributes={"latency": 100})
    added = requests.post(base, json={"type": "bandwidth", "stream": "upstream", "attributes": {"rate": 5}})
    assert added.status_code == 200
    assert added.json() == {"name": "bandwidth_upstream", "type": "bandwidth", "stream": "upstream",
                            "toxicity": 1.0, "attributes": {"rate": 5}}
    listed = requests.get(base).json()
    assert [t["name"] for t in listed] == ["bandwidth_upstream", "latency_downstream"]  # upstream first
    assert listed[1]["attributes"] == {"latency": 100, "jitter": 0}
    assert set(proxy.toxics()) == {"bandwidth_upstream", "latency_downstream"}
    got = requests.get(base + "/latency_downstream").json()
    assert got["type"] == "latency" and got["toxicity"] == 1.0
    merged = requests.post(base + "/latency_downstream", json={"attributes": {"jitter": 7}, "toxicity": 0.5})
    assert merged.status_code == 200
    assert merged.json()["attributes"] == {"latency": 100, "jitter": 7} and merged.json()["toxicity"] == 0.5
    patched = requests.patch(base + "/latency_downstream", json={"attributes": {"latency": 3}})
    assert patched.json()["attributes"] == {"latency": 3, "jitter": 7}
    assert requests.delete(base + "/latency_downstream").status_code == 204
    assert proxy.destroy_toxic("bandwidth_upstream") is True
    assert requests.get(base).json() == []


def test_toxic_errors(client: Toxiproxy, echo_proxy: object, server: ServerProcess) -> None:
    proxy = client.get_proxy("echo")
    base = server.url + "/proxies/echo/toxics"
    proxy.add_toxic(type="latency", name="lat", attributes={"latency": 1})
    with pytest.raises(ProxyExists):
        proxy.add_toxic(type="latency", name="lat", stream="upstream")  # unique across streams
    with pytest.raises(InvalidToxic):
        proxy.add_toxic(type="no_such_toxic")
    _error(requests.post(base, json={"type": "nope"}), 400, "invalid toxic type")
    _error(requests.post(base, json={"type": "latency", "stream": "sideways"}), 400,
           "stream was invalid, can be either upstream or downstream")
    bad_attr = requests.post(base, json={"type": "latency", "name": "x", "attributes": {"latency": "slow"}})
    assert bad_attr.status_code == 400
    _error(requests.get(base + "/nope"), 404, "toxic not found")
    _error(requests.post(base + "/nope", json={"attributes": {}}), 404, "toxic not found")
    _error(requests.delete(base + "/nope"), 404, "toxic not found")
    _error(requests.get(server.url + "/proxies/nope/toxics"), 404, "proxy not found")
    _error(requests.post(server.url + "/proxies/nope/toxics", json={"type": "latency"}), 404, "proxy not found")
    with pytest.raises(NotFound):
        proxy.destroy_toxic("nope")


def test_reset_enables_and_clears(client: Toxiproxy, echo_proxy: object, server: ServerProcess) -> None:
    proxy = client.get_proxy("echo")
    proxy.add_toxic(type="latency", attributes={"latency": 1000})
    proxy.disable()
    assert client.reset() is True
    after = requests.get(server.url + "/proxies/echo").json()
    assert after["enabled"] is True and after["toxics"] == []
    with connect(proxy) as sock:
        assert round_trip(sock) < 0.5


def test_config_flag_populates_before_api_answers(echo: TcpServer) -> None:
    """Single-dash flags as the real binary; ``-config`` proxies listen once /version answers."""
    listen, api = free_port(), free_port()
    config = [{"name": "cfg", "upstream": echo.address, "listen": f"{HOST}:{listen}"}]
    with toxiproxy_process("-host", HOST, "-port", str(api), port=api, config=config) as srv:
        with socket.create_connection((HOST, listen), timeout=2) as sock:
            assert round_trip(sock) < 1.0
        proxies = requests.get(f"http://{HOST}:{api}/proxies").json()
        assert proxies["cfg"]["listen"] == f"{HOST}:{listen}"
        assert srv.ready_s < 2.0, f"server took {srv.ready_s:.2f}s to answer"


def test_sigterm_exits_cleanly_and_localhost_binds_one_address(echo: TcpServer) -> None:
    with toxiproxy_process() as srv:
        created = requests.post(srv.url + "/proxies", json={"name": "l", "upstream": echo.address,
                                                          "listen": "localhost:0"})
        assert created.status_code == 201 and created.json()["listen"].startswith("127.0.0.1:")
        srv.proc.terminate()
        assert srv.proc.wait(timeout=10) == 0


def test_created_disabled_listens_only_when_enabled(client: Toxiproxy, echo: TcpServer, server: ServerProcess) -> None:
    port = free_port()
    created = requests.post(server.url + "/proxies", json={"name": "off", "upstream": echo.address,
                                                          "listen": f"{HOST}:{port}", "enabled": False})
    assert created.status_code == 201 and created.json()["enabled"] is False
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((HOST, port), timeout=2)
    client.get_proxy("off").enable()
    with socket.create_connection((HOST, port), timeout=2) as sock:
        assert round_trip(sock) < 1.0
