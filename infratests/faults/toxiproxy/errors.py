"""The API's errors: an HTTP status and Toxiproxy's message (and, for /populate, what it created)."""

from __future__ import annotations

from typing import Any

from ...errors import InfratestsError

__all__ = ["ApiError", "PopulateError", "Undecodable", "bad_body"]


class ApiError(InfratestsError):
    """Answered as ``{"error": message, "status": status}`` with that HTTP status."""

    def __init__(self, status: int, message: str, subject: Any = None) -> None:
        super().__init__(message, subject)
        self.status = status
        self.message = message

    def to_json(self) -> dict[str, Any]:
        return {"error": self.message, "status": self.status}


class PopulateError(ApiError):
    """A failed /populate: Toxiproxy adds ``"proxies"``, those created before the failure (null if none)."""

    def __init__(self, error: ApiError, created: list[dict[str, Any]]) -> None:
        super().__init__(error.status, error.message, error.subject)
        self.created = created

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "proxies": self.created or None}


def bad_body(detail: str) -> ApiError:
    """400 ``bad request body: <detail>``, Toxiproxy's wording for a body it cannot decode."""
    return ApiError(400, f"bad request body: {detail}")


class Undecodable:
    """A request body that is not JSON (or empty: Go's ``EOF``); a handler that reads it answers ``error``."""

    def __init__(self, detail: str) -> None:
        self.error = bad_body(detail)
