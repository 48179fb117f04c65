"""Topology: every link goes through the fault proxy unless opted out; busy ports stop the start."""

from __future__ import annotations

import socket

import pytest

from infratests.errors import PortInUse
from infratests.profile_file import load_profile
from infratests.session import Session
from infratests.stack.topology import Stack, link_names


def test_every_link_is_proxied_by_default(session: Session) -> None:
    stack = Stack(load_profile(), session)
    assert set(link_names(stack.profile)) == {
        "pgbouncer->postgres", "app->pgbouncer", "app->redis-1", "app->redis-2", "app->redis-3",
        "app->redis-cache", "app->dependency", "nginx->app-1", "nginx->app-2"}
    for link in link_names(stack.profile):
        client, server = link.split("->")
        assert stack.link(client, server) != stack[server].endpoint, link
    assert "faultproxy" in stack.services


def test_links_can_opt_out(session: Session) -> None:
    stack = Stack(load_profile(None, {"faults.direct_links": '["nginx->app-1"]'}), session)
    assert stack.link("nginx", "app-1") == stack["app-1"].endpoint
    assert stack.link("nginx", "app-2") != stack["app-2"].endpoint
    direct = Stack(load_profile(None, {"faults.proxy": "false"}), session)
    assert "faultproxy" not in direct.services
    assert direct.link("app", "pgbouncer") == direct["pgbouncer"].endpoint


def test_app_contract_env_is_wired_through_the_proxies(session: Session) -> None:
    stack = Stack(load_profile(), session)
    env = stack["app-1"].spec.env  # type: ignore[attr-defined]
    assert f":{stack.link('app', 'pgbouncer').port}/app" in env["DATABASE_URL"]
    assert env["REDIS_LOCK_URLS"].count("redis://") == 3
    assert env["DEPENDENCY_URL"] == f"http://{stack.link('app', 'dependency').address}"
    assert env["HEALTH_SECRET"] == stack.health_secret


def test_busy_port_is_refused_before_anything_starts(session: Session) -> None:
    stack = Stack(load_profile(), session)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", stack["nginx"].endpoint.port))
        squatter.listen()
        with pytest.raises(PortInUse, match=f"port {stack['nginx'].endpoint.port} is already in use"):
            stack.start()
    assert not any(service.is_running() for service in stack)
