"""The whole stack on the Docker backend serves through nginx; ``auto`` picks Docker here and says why."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from infratests.config import Profile
from infratests.janitor import Session
from infratests.load.workloads.requests import client_for
from infratests.stack.docker.backend import DockerService
from infratests.stack.docker.reaper import SESSION_LABEL
from infratests.stack.topology import Stack


@pytest.fixture(scope="module")
def docker_stack(docker_api: Any, local_plan: object) -> Iterator[Stack]:
    from infratests.config import load_profile
    from infratests.janitor import open_session

    session = open_session()
    try:
        with Stack(load_profile(None, {"docker.images": "local"}), session, "auto") as running:
            yield running
    finally:
        session.close()


def test_auto_picked_docker(docker_stack: Stack) -> None:
    assert docker_stack.backend == "docker"
    assert all(isinstance(service, DockerService) for service in docker_stack)


def test_every_service_runs_in_a_labelled_container(docker_api: Any, docker_stack: Stack) -> None:
    labelled = docker_api.containers.list(filters={"label": f"{SESSION_LABEL}={docker_stack.session.id}"})
    assert len(labelled) == len(docker_stack.services)
    assert set(docker_stack.ready_times) == {*docker_stack.services, "total"}


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

    chosen, _run = backends.resolve("auto", profile)
    assert chosen == "local"
    assert "backend auto -> local: no Docker daemon answers" in capsys.readouterr().err
