"""The Docker daemon's client, when one answers (a leaf: the backend, the reaper and doctor use it)."""

from __future__ import annotations

from typing import Any

__all__ = ["docker_client"]


def docker_client() -> tuple[Any | None, str]:
    """A client of a daemon that answers, or None and why not."""
    import docker  # type: ignore[import-untyped]
    import requests

    try:
        client = docker.from_env(timeout=10)
        version = client.version()["Version"]
    except (docker.errors.DockerException, requests.exceptions.RequestException) as error:
        return None, f"no Docker daemon answers ({type(error).__name__}: {error})"
    return client, f"Docker daemon {version} answers"
