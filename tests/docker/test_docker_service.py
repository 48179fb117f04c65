"""The Docker backend satisfies the Service API; process faults are container operations."""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
import redis as redis_client

from infratests.config import Profile
from infratests.errors import PortInUse, ServiceError
from infratests.faults.nemesis import Nemesis
from infratests.history import Recorder
from infratests.profile_file import load_profile
from infratests.session import Session
from infratests.stack import postgres, redis
from infratests.stack.docker.backend import DockerService
from infratests.stack.docker.reaper import SESSION_LABEL, remove_session_containers
from infratests.stack.local import unprivileged_user
from infratests.stack.ports import free_port
from infratests.stack.service import ServiceSpec
from infratests.stack.topology import Stack
from tests.stack.protocol import check_service_protocol


def _redis(run: Callable[..., DockerService], profile: Profile, session: Session,
           port: int | None = None) -> DockerService:
    spec = redis.redis_spec(profile, "redis-d", port or free_port(), session.service_dir("redis-d"))
    return run(spec, session, unprivileged_user(profile.run_as), 20)


@pytest.fixture
def node(docker_run: Callable[..., DockerService], profile: Profile,
         session: Session) -> Iterator[DockerService]:
    with _redis(docker_run, profile, session) as service:
        yield service


def test_protocol_compliance(docker_run: Callable[..., DockerService], profile: Profile,
                             session: Session) -> None:
    service = _redis(docker_run, profile, session)
    check_service_protocol(service)
    assert "Ready to accept connections" in service.logs()  # kept after the container is gone


def test_container_is_labelled_runs_unprivileged_and_shares_the_host_network(
        node: DockerService, session: Session) -> None:
    attrs = node.container.attrs
    assert attrs["Config"]["Labels"][SESSION_LABEL] == session.id
    assert attrs["HostConfig"]["NetworkMode"] == "host"
    assert attrs["Config"]["User"] not in ("", "0", "0:0")
    assert node.launch.image.startswith("infratests/redis:")


@pytest.fixture
def nemesis(session: Session) -> Nemesis:
    """A nemesis whose stack is never started: the container under test is not one of its services."""
    return Nemesis(Stack(load_profile(), session), Recorder())


def test_pause_makes_clients_time_out(node: DockerService, nemesis: Nemesis) -> None:
    client = redis_client.Redis(node.endpoint.host, node.endpoint.port, socket_timeout=0.5)
    assert client.ping()
    with nemesis.paused(node):
        with pytest.raises(redis_client.TimeoutError):
            client.ping()
    assert node.wait_ready(5) and client.ping()


def test_kill_refuses_connections_and_restart_recovers(node: DockerService, nemesis: Nemesis) -> None:
    with nemesis.crashed(node):
        assert not node.is_running()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((node.endpoint.host, node.endpoint.port), timeout=1).close()
    assert node.is_ready()


def test_restart_can_stay_down(node: DockerService, nemesis: Nemesis) -> None:
    assert nemesis.restart(node, down_for=0.3) >= 0.3
    assert node.is_ready()


def test_terminate_then_fresh_container(node: DockerService, nemesis: Nemesis) -> None:
    first = node.container.id
    assert nemesis.terminate(node, 10) == 0
    nemesis.start(node)
    assert node.is_ready() and node.container.id != first


def test_start_refuses_a_busy_port(docker_run: Callable[..., DockerService], profile: Profile,
                                   session: Session) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        service = _redis(docker_run, profile, session, squatter.getsockname()[1])
        with pytest.raises(PortInUse, match="already listens"):
            service.start()


def test_exit_before_ready_carries_the_logs(docker_run: Callable[..., DockerService], profile: Profile,
                                            session: Session) -> None:
    spec = ServiceSpec(name="broken", kind="redis", argv=("/usr/bin/redis-server", "--no-such-option", "1"),
                       endpoint=_redis(docker_run, profile, session).endpoint,
                       probe=lambda: socket.create_connection(("127.0.0.1", 1)).close())
    with pytest.raises(ServiceError, match="broken exited (with code [0-9]+ )?before it was ready(.|\n)*no-such-opt"):
        with docker_run(spec, session, None, 10):
            pass


def test_postgres_in_a_container_on_the_cached_template(docker_run: Callable[..., DockerService],
                                                        profile: Profile, session: Session,
                                                        nemesis: Nemesis) -> None:
    user = unprivileged_user(profile.run_as)
    spec = postgres.postgres_spec(profile, free_port(), user, session.service_dir("postgres-d"),
                                  name="postgres-d")
    with docker_run(spec, session, user, 30) as service:
        with psycopg.connect(service.endpoint.url, connect_timeout=5) as conn:
            assert conn.execute("select current_user").fetchone() == (profile.postgres.user,)
        with nemesis.crashed(service):
            with pytest.raises(psycopg.OperationalError):
                psycopg.connect(service.endpoint.url, connect_timeout=2)
        assert service.is_ready()


def test_janitor_removes_the_session_containers(docker_api: Any, docker_run: Callable[..., DockerService],
                                                profile: Profile, session: Session) -> None:
    service = _redis(docker_run, profile, session).start()
    name = service.container.name
    assert remove_session_containers(session.id) == [name]
    assert not service.is_running()
    service.stop()  # the container is gone already: still fine



def test_next_run_reaps_the_containers_of_a_dead_run(docker_run: Callable[..., DockerService],
                                                     profile: Profile, session: Session) -> None:
    from infratests.janitor import reap_leftovers

    service = _redis(docker_run, profile, session).start()
    (session.dir / "owner").write_text("999999999 1\n")  # as if the run was SIGKILLed
    assert session.id in reap_leftovers()
    assert not service.is_running() and not session.dir.exists()


def test_a_signal_to_the_pid_reaches_the_server(node: DockerService) -> None:
    assert node.pid is not None
    os.kill(node.pid, signal.SIGTERM)  # the init forwards it; redis exits 0 on SIGTERM
    assert node.container.wait(timeout=10)["StatusCode"] == 0
    assert node.pid is None and "Received SIGTERM" in node.logs()
