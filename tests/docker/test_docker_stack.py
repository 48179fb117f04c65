"""The whole stack on the Docker backend serves through nginx, on the host network and in a pod on a
bridge network; ``auto`` picks Docker here and says why."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from infratests.config import Profile
from infratests.load.workloads.requests import client_for
from infratests.session import Session
from infratests.stack.docker.backend import DockerService
from infratests.stack.docker.network import Pod
from infratests.stack.docker.reaper import SERVICE_LABEL, SESSION_LABEL
from infratests.stack.topology import Stack


@pytest.fixture(scope="module", params=["host", "bridge"])
def docker_stack(request: pytest.FixtureRequest, docker_api: Any, local_plan: object) -> Iterator[Stack]:
    from infratests.janitor import open_session
    from infratests.profile_file import load_profile

    session = open_session()
    try:
        profile = load_profile(None, {"docker.images": "local", "docker.network": request.param})
        with Stack(profile, session, "auto") as running:
            yield running
    finally:
        session.close()


def test_auto_picked_docker(docker_stack: Stack) -> None:
    assert docker_stack.backend == "docker"
    assert all(isinstance(service, DockerService) for service in docker_stack)


def test_every_service_runs_in_a_labelled_container_of_the_stack_network(docker_api: Any,
                                                                         docker_stack: Stack) -> None:
    labelled = docker_api.containers.list(filters={"label": f"{SESSION_LABEL}={docker_stack.session.id}"})
    services = [c for c in labelled if SERVICE_LABEL in c.labels]
    assert len(services) == len(docker_stack.services)
    assert set(docker_stack.ready_times) == {*docker_stack.services, "total"}
    modes = {c.attrs["HostConfig"]["NetworkMode"] for c in services}
    if not isinstance(docker_stack.placement.network, Pod):
        assert modes == {"host"}
    else:
        (sandbox,) = [c for c in labelled if SERVICE_LABEL not in c.labels]
        assert modes == {f"container:{sandbox.id}"}
        published = {int(port.split("/")[0]): bindings for port, bindings in sandbox.ports.items()}
        assert sorted(published) == docker_stack.ports()
        assert all(b == [{"HostIp": "127.0.0.1", "HostPort": str(port)}] for port, b in published.items())


def test_a_pod_is_gone_with_its_stack(docker_api: Any, local_plan: object, profile: Profile,
                                      session: Session) -> None:
    from infratests.profile_file import load_profile

    bridged = load_profile(None, {"docker.images": "local", "docker.network": "bridge"})
    with Stack(bridged, session, "docker") as running:
        pod = running.placement.network
        assert isinstance(pod, Pod) and pod.is_up
    assert not pod.is_up
    assert docker_api.containers.list(all=True, filters={"label": f"{SESSION_LABEL}={session.id}"}) == []
    assert docker_api.networks.list(filters={"label": f"{SESSION_LABEL}={session.id}"}) == []


def test_a_request_goes_through_nginx_app_pgbouncer_postgres_and_redis(docker_stack: Stack) -> None:
    with client_for(docker_stack.url, docker_stack.tls.ca, 10, http2=True) as client:
        assert client.get("/health").status_code == 200
        assert client.get("/db/sleep", params={"s": 0}).json() == {"slept_s": 0}
        assert client.put("/cache/k", content=b"v").status_code == 200
        assert client.get("/cache/k").json()["value"] == "v"
        assert client.get("/quote").status_code == 200


def test_auto_falls_back_to_local_and_says_why(monkeypatch: pytest.MonkeyPatch, profile: Profile,
                                               session: Session, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    from infratests.stack import backends

    assert backends.resolve("auto", profile, session).name == "local"
    assert "backend auto -> local: no Docker daemon answers" in capsys.readouterr().err


def test_janitor_removes_a_pod_left_behind(docker_api: Any, local_plan: Any, session: Session) -> None:
    from infratests.stack.docker.reaper import remove_session_containers
    from infratests.stack.ports import free_port

    Pod(session, local_plan.images["python"]).up([free_port()])  # never brought down, as after a SIGKILL
    assert remove_session_containers(session.id)
    assert docker_api.containers.list(all=True, filters={"label": f"{SESSION_LABEL}={session.id}"}) == []
    assert docker_api.networks.list(filters={"label": f"{SESSION_LABEL}={session.id}"}) == []
