"""Calls to a Docker daemon that may be gone, slow, or have lost the container already."""

from __future__ import annotations

import pwd
from typing import Any

import docker.errors  # type: ignore[import-untyped]
import requests

__all__ = ["DOCKER_ERRORS", "container_user", "quietly"]

# What a call to a daemon that is gone, slow or has lost the object raises.
DOCKER_ERRORS = (docker.errors.DockerException, requests.exceptions.RequestException)


def container_user(user: str | None) -> str:
    """``uid:gid`` of ``user`` on this machine (the owner of the mounted files); None: root."""
    if user is None:
        return "0:0"
    entry = pwd.getpwnam(user)
    return f"{entry.pw_uid}:{entry.pw_gid}"


def quietly(call: Any, **kwargs: Any) -> None:
    """Teardown steps must not fail on a container, network (or daemon) that is already gone."""
    try:
        call(**kwargs)
    except DOCKER_ERRORS:
        pass
