"""Calls to the external dependency through the circuit breaker with bounded, jittered retries (C-CB)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from starlette.responses import JSONResponse

from infratests.refapp.breaker import CircuitOpen, backoff_delay

__all__ = ["DependencyError", "fetch_quote"]

log = logging.getLogger("refapp.dependency")


class DependencyError(Exception):
    """The dependency answered 5xx, timed out or refused the connection (counts as a breaker failure)."""


async def _call_once(state: Any) -> dict[str, Any]:
    import httpx

    timeout = state.settings.breaker_call_timeout_ms / 1000
    try:
        response = await asyncio.wait_for(state.http.get(f"{state.settings.dependency_url}/quote"), timeout)
    except (TimeoutError, httpx.HTTPError, OSError) as exc:
        raise DependencyError(f"{type(exc).__name__}: {exc}") from exc
    if response.status_code >= 400:
        raise DependencyError(f"dependency answered {response.status_code}")
    return response.json()


async def fetch_quote(state: Any) -> JSONResponse:
    """Up to REFAPP_RETRY_ATTEMPTS calls; an open circuit ends the loop at once with 503."""
    settings = state.settings
    last = ""
    for attempt in range(settings.retry_attempts):
        if attempt:
            await asyncio.sleep(
                backoff_delay(attempt - 1, settings.retry_base_ms / 1000, settings.retry_max_ms / 1000)
            )
        try:
            quote = await state.breaker.call(lambda: _call_once(state))
        except CircuitOpen as exc:
            return JSONResponse({"error": str(exc), "breaker": state.breaker.state.name}, status_code=503)
        except DependencyError as exc:
            last = str(exc)
            log.warning("dependency call failed", extra={"attempt": attempt + 1, "error": last})
            continue
        return JSONResponse({"quote": quote, "attempts": attempt + 1, "breaker": state.breaker.state.name})
    return JSONResponse(
        {"error": f"dependency failed: {last}", "breaker": state.breaker.state.name}, status_code=502
    )
