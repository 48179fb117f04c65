"""Calls to a Docker daemon that may be gone, slow, or have lost the container already."""

from __future__ import annotations

from typing import Any

import docker.errors  # type: ignore[import-untyped]
import requests

__all__ = ["DOCKER_ERRORS", "quietly"]

# What a call to a daemon that is gone, slow or has lost the object raises.
DOCKER_ERRORS = (docker.errors.DockerException, requests.exceptions.RequestException)


def quietly(call: Any, **kwargs: Any) -> None:
    """Teardown steps must not fail on a container, network (or daemon) that is already gone."""
    try:
        call(**kwargs)
    except DOCKER_ERRORS:
        pass
