"""Backends: what runs a service spec. ``local`` runs a child process; others arrive here.

A backend is a function ``(spec, session, user, startup_timeout) -> Service``;
scenarios never see which one ran their services.
"""

from __future__ import annotations

from collections.abc import Callable

from infratests.errors import ConfigError
from infratests.janitor import Session
from infratests.stack.local import LocalProcess
from infratests.stack.service import Service, ServiceSpec

__all__ = ["Backend", "BACKENDS", "backend"]

Backend = Callable[[ServiceSpec, Session, str | None, float], Service]

BACKENDS: dict[str, Backend] = {"local": LocalProcess}


def backend(name: str) -> Backend:
    """The backend called ``name``; an unknown name is a usage error naming the choices."""
    try:
        return BACKENDS[name]
    except KeyError:
        raise ConfigError(f"backend {name!r}: choose one of {', '.join(BACKENDS)}", "backend") from None
