"""Every error the suite raises derives from :class:`InfratestsError` and carries the object at fault."""

from __future__ import annotations

from typing import Any

__all__ = [
    "InfratestsError",
    "ConfigError",
    "ServiceError",
    "ReadinessTimeout",
    "UnsupportedOperation",
    "PortInUse",
    "CheckFailed",
]


class InfratestsError(Exception):
    """Base of all suite errors; ``subject`` is the service, proxy, config key... at fault."""

    def __init__(self, message: str, subject: Any = None) -> None:
        super().__init__(message)
        self.subject = subject


class ConfigError(InfratestsError):
    """A profile key is wrong; the message names the key and the fix."""


class ServiceError(InfratestsError):
    """A service failed to start, stop or answer."""


class ReadinessTimeout(ServiceError):
    """A service did not become ready in time; the message ends with its last log lines."""


class PortInUse(ServiceError):
    """Something already answers on the port a service was about to use."""


class UnsupportedOperation(InfratestsError):
    """The backend cannot do this (e.g. pause an external server); scenarios skip with the reason."""


class CheckFailed(InfratestsError, AssertionError):
    """A checker found a claim violated; the message names the claim id and the operations."""
