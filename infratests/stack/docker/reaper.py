"""The janitor's Docker hook: remove containers (then networks) labelled with a session id.

Ryuk cannot run where its image cannot be pulled, and a SIGKILLed run never
tears down: the janitor calls these at session close, at the next start and
from ``infratests down``. Without a reachable daemon they do nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

__all__ = ["SERVICE_LABEL", "SESSION_LABEL", "remove_session_containers"]

SESSION_LABEL = "infratests.session"
SERVICE_LABEL = "infratests.service"


def remove_session_containers(session_id: str) -> list[str]:
    """Force-remove every container of ``session_id``, then its pods' networks; the containers' names."""
    return _remove(lambda labels: labels.get(SESSION_LABEL) == session_id, f"{SESSION_LABEL}={session_id}")


def _remove(doomed: Callable[[Mapping[str, str]], bool], label_filter: str) -> list[str]:
    try:
        import docker.errors  # type: ignore[import-untyped]

        from infratests.stack.docker.client import docker_client
    except ImportError:  # no Docker SDK here: nothing of ours can be running in Docker
        return []
    client, _why = docker_client()
    if client is None:
        return []
    removed = []
    for container in client.containers.list(all=True, filters={"label": label_filter}):
        if doomed(container.labels):
            try:
                container.remove(force=True, v=True)
                removed.append(container.name)
            except docker.errors.APIError:  # already removed by a concurrent reaper
                continue
    for network in client.networks.list(filters={"label": label_filter}):
        if doomed(network.attrs.get("Labels") or {}):
            try:
                network.remove()
            except docker.errors.APIError:  # already removed, or a container of another run still in it
                continue
    return removed
