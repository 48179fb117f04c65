"""Docker tests run only where a daemon answers and the local images are built; else skip, saying why."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from infratests.config import Profile
from infratests.janitor import open_session
from infratests.profile_file import load_profile
from infratests.session import Session
from infratests.stack.docker.choose import configure_ryuk, image_plan
from infratests.stack.docker.client import docker_client
from infratests.stack.docker.images import local_image_names, missing_images
from infratests.stack.docker.plan import ImagePlan


@pytest.fixture(scope="session")
def docker_api() -> Any:
    client, why = docker_client()
    if client is None:
        pytest.skip(f"{why}: scripts/docker-setup starts one")
    return client


@pytest.fixture(scope="session")
def local_plan(docker_api: Any) -> ImagePlan:
    """The plan on locally built images (this machine has no registry)."""
    absent = missing_images(docker_api, local_image_names())
    if absent:
        pytest.skip(f"local images not built ({', '.join(absent)}): run `infratests images build`")
    configure_ryuk(docker_api)
    return image_plan(load_profile(None, {"docker.images": "local"}), docker_api)


@pytest.fixture
def session() -> Iterator[Session]:
    opened = open_session()
    yield opened
    opened.close()


@pytest.fixture
def docker_run(local_plan: ImagePlan) -> Callable[..., Any]:
    """The docker backend callable: ``docker_run(spec, session, user, startup_timeout)``."""
    from infratests.stack.docker.backend import DockerService

    return functools.partial(DockerService, plan=local_plan)


@pytest.fixture(scope="session")
def profile() -> Profile:
    return load_profile()
