"""The API's error: an HTTP status and Toxiproxy's message."""

from __future__ import annotations

from typing import Any

from ...errors import InfratestsError

__all__ = ["ApiError"]


class ApiError(InfratestsError):
    """Answered as ``{"error": message, "status": status}`` with that HTTP status."""

    def __init__(self, status: int, message: str, subject: Any = None) -> None:
        super().__init__(message, subject)
        self.status = status
        self.message = message

    def to_json(self) -> dict[str, Any]:
        return {"error": self.message, "status": self.status}
