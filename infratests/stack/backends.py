"""Backends: what runs a service spec. ``local`` runs a child process, ``docker`` a container.

:func:`resolve` gives a :class:`Placement` per stack (or per extra service):
the backend callable ``(spec, session, user, startup_timeout) -> Service``, the
runtime the service modules build specs for (bind address, whose binaries),
and the network set up before the first service starts
and removed after the last. Scenarios never see which one ran their services.
``auto`` picks ``docker`` when a daemon answers and its images are present,
else ``local``, and says why. ``external`` starts nothing: the profile's
``[external]`` table names an environment that already runs.
"""

from __future__ import annotations

import logging
import sys

from infratests.config import Profile
from infratests.errors import ConfigError
from infratests.session import Session
from infratests.stack.local import LocalProcess
from infratests.stack.placement import REMOTE_NETWORK, Placement
from infratests.stack.service import Service, ServiceSpec

__all__ = ["CHOICES", "resolve"]

CHOICES = ("local", "docker", "auto", "external")


def resolve(name: str, profile: Profile, session: Session) -> Placement:
    """A new placement for ``name`` (``auto`` resolved) configured for ``profile``; logs the choice."""
    if name not in CHOICES:
        raise ConfigError(f"backend {name!r}: choose one of {', '.join(CHOICES)}", "backend")
    if name == "local":
        return Placement("local", LocalProcess)
    if name == "external":
        return Placement("external", _never_run, network=REMOTE_NETWORK)
    from infratests.stack.docker.choose import choose_backend, docker_placement

    chosen, why = choose_backend(name, profile)
    if chosen == "local":
        _say(f"backend auto -> local: {why}")
        return Placement("local", LocalProcess)
    placement, how = docker_placement(profile, session)
    _say(f"backend {name} -> docker: {why}; {how}")
    return placement


def _never_run(spec: ServiceSpec, *_args: object) -> Service:
    raise ConfigError(f"{spec.name}: the external backend starts nothing; name it in [external]", "external")


def _say(line: str) -> None:
    logging.getLogger("infratests").info(line)
    print(f"infratests: {line}", file=sys.stderr, flush=True)
