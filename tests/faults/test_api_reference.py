"""Where Toxiproxy's own server is the reference: details found by running both servers side by side.

Each test passes on Toxiproxy v2.12's API (``$INFRATESTS_TOXIPROXY_SERVER``) and on
ours; together they pin what the documentation leaves open to what Toxiproxy does.
"""

from __future__ import annotations

import socket

import requests
from toxiproxy import Toxiproxy

from .helpers import HOST, ServerProcess, TcpServer, free_port, round_trip


def test_unknown_path_and_method(server: ServerProcess) -> None:
    """Routes match exactly: a trailing slash is an unknown path (404); a known path answers 405 to other methods."""
    assert requests.get(server.url + "/nothing").status_code == 404
    assert requests.get(server.url + "/proxies/").status_code == 404
    assert requests.put(server.url + "/proxies/echo").status_code == 405
    assert requests.head(server.url + "/version").status_code == 405


def test_browsers_are_refused(client: Toxiproxy, echo: TcpServer, server: ServerProcess) -> None:
    """A browser's user agent gets 403 and changes nothing (no cross-site requests to the API)."""
    browser = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64)"}
    assert requests.get(server.url + "/version", headers=browser).status_code == 403
    refused = requests.post(server.url + "/proxies", headers=browser,
                            json={"name": "b", "upstream": echo.address, "listen": f"{HOST}:0"})
    assert refused.status_code == 403 and client.proxies() == {}


def test_populate_failure_lists_what_it_created(client: Toxiproxy, echo: TcpServer, server: ServerProcess) -> None:
    """A proxy that cannot listen stops /populate with 500; the body lists the proxies created before it."""
    with socket.create_server((HOST, 0)) as taken:
        busy = f"{HOST}:{taken.getsockname()[1]}"
        resp = requests.post(server.url + "/populate", json=[
            {"name": "first", "upstream": echo.address, "listen": f"{HOST}:0"},
            {"name": "busy", "upstream": echo.address, "listen": busy},
            {"name": "third", "upstream": echo.address, "listen": f"{HOST}:0"}])
    assert resp.status_code == 500 and resp.json()["status"] == 500
    assert [p["name"] for p in resp.json()["proxies"]] == ["first"]
    assert set(client.proxies()) == {"first"}
    empty = requests.post(server.url + "/populate", json=[])
    assert empty.status_code == 201 and empty.json() == {"proxies": None}


def test_listen_is_checked_on_start_and_upstream_on_connect(client: Toxiproxy, server: ServerProcess) -> None:
    """A listen address that cannot be bound is a 500 when the proxy starts; an upstream is only dialled."""
    url = server.url + "/proxies"
    for listen in (HOST, f"{HOST}:99999"):
        bad = requests.post(url, json={"name": "bad", "upstream": f"{HOST}:1", "listen": listen})
        assert bad.status_code == 500 and bad.json()["error"].startswith("listen tcp"), bad.text
    off = requests.post(url, json={"name": "off", "upstream": f"{HOST}:1", "listen": HOST, "enabled": False})
    assert off.status_code == 201 and off.json()["enabled"] is False
    assert requests.post(url + "/off", json={"enabled": True}).status_code == 500
    assert requests.get(url + "/off").json()["enabled"] is False
    port = free_port()
    anything = requests.post(url, json={"name": "any", "upstream": "no-port-here", "listen": f"{HOST}:{port}"})
    assert anything.status_code == 201
    with socket.create_connection((HOST, port), timeout=5) as sock:
        try:
            assert sock.recv(10) == b""  # the upstream cannot be dialled: the client is closed
        except ConnectionResetError:
            pass


def test_toxic_checks_in_toxiproxys_order(client: Toxiproxy, echo_proxy: object, server: ServerProcess) -> None:
    """Stream before type, name conflict before attributes; streams in any case."""
    base = server.url + "/proxies/echo/toxics"
    both_bad = requests.post(base, json={"type": "nope", "stream": "sideways"})
    assert both_bad.status_code == 400 and both_bad.json()["error"].startswith("stream was invalid")
    assert requests.post(base, json={"type": "latency", "stream": ""}).status_code == 400
    assert requests.post(base, json={"type": "latency", "name": "lat"}).status_code == 200
    clash = requests.post(base, json={"type": "latency", "name": "lat", "attributes": {"latency": "x"}})
    assert clash.status_code == 409
    bad_toxicity = requests.post(base, json={"type": "latency", "name": "t", "toxicity": "x"})
    assert bad_toxicity.status_code == 400 and bad_toxicity.json()["error"].startswith("bad request body")
    shouted = requests.post(base, json={"type": "latency", "stream": "UPSTREAM", "attributes": {"latency": 150}})
    assert shouted.status_code == 200 and shouted.json()["name"] == "latency_UPSTREAM"
    assert [t["name"] for t in requests.get(base).json()] == ["latency_UPSTREAM", "lat"]  # an upstream toxic
    host, port = client.get_proxy("echo").listen.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        assert 0.14 <= round_trip(sock) < 0.5


def test_reset_enables_before_it_clears(client: Toxiproxy, echo_proxy: object, server: ServerProcess) -> None:
    """/reset starts each proxy, then clears its toxics: one that cannot listen again stops it with 500."""
    proxy = client.get_proxy("echo")
    proxy.add_toxic(type="latency", attributes={"latency": 10})
    proxy.disable()
    host, port = proxy.listen.rsplit(":", 1)
    with socket.create_server((host, int(port))):
        failed = requests.post(server.url + "/reset")
        assert failed.status_code == 500 and failed.json()["error"].startswith("listen tcp")
        assert len(requests.get(server.url + "/proxies/echo/toxics").json()) == 1
    assert requests.post(server.url + "/reset").status_code == 204
    after = requests.get(server.url + "/proxies/echo").json()
    assert after["enabled"] is True and after["toxics"] == []
