"""Backends: what runs a service spec. ``local`` runs a child process, ``docker`` a container.

A backend is a function ``(spec, session, user, startup_timeout) -> Service``;
scenarios never see which one ran their services. ``auto`` picks ``docker``
when a daemon answers and its images are present, else ``local``, and says why.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from infratests.config import Profile
from infratests.errors import ConfigError
from infratests.janitor import Session
from infratests.stack.local import LocalProcess
from infratests.stack.service import Service, ServiceSpec

__all__ = ["BACKENDS", "CHOICES", "Backend", "backend", "resolve"]

Backend = Callable[[ServiceSpec, Session, str | None, float], Service]

BACKENDS: dict[str, Backend] = {"local": LocalProcess}
CHOICES = ("local", "docker", "auto")


def backend(name: str) -> Backend:
    """The backend called ``name`` (``docker``: as the last :func:`resolve` configured it).

    An unknown name is a usage error naming the choices.
    """
    if name in BACKENDS:
        return BACKENDS[name]
    if name in ("docker", "auto"):
        from infratests.config import load_profile

        return resolve(name, load_profile())[1]
    raise ConfigError(f"backend {name!r}: choose one of {', '.join(CHOICES)}", "backend")


def resolve(name: str, profile: Profile) -> tuple[str, Backend]:
    """The backend for ``name`` (``auto`` resolved) configured for ``profile``; logs the choice."""
    if name not in CHOICES:
        raise ConfigError(f"backend {name!r}: choose one of {', '.join(CHOICES)}", "backend")
    if name == "local":
        return name, BACKENDS["local"]
    from infratests.stack.docker.choose import choose_backend, docker_backend

    chosen, why = choose_backend(name, profile)
    if chosen == "local":
        _say(f"backend auto -> local: {why}")
        return chosen, BACKENDS["local"]
    run, how = docker_backend(profile)
    _say(f"backend {name} -> docker: {why}; {how}")
    BACKENDS["docker"] = run
    return "docker", run


def _say(line: str) -> None:
    logging.getLogger("infratests").info(line)
    print(f"infratests: {line}", file=sys.stderr, flush=True)
