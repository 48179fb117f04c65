"""Is the shared stack serving again? The check that keeps one scenario's faults out of the next one's verdict.

Healing a fault is not recovery: after a database outage every replica's pool
reconnects on its own schedule (psycopg_pool backs off 1, 2, 4... s; other
pools have their own), so the next scenario could meet a replica that is still
reconnecting and blame the app for the previous scenario's fault. After a
test's faults are healed, :func:`wait_until_serving` waits until every replica
serves requests that need its dependencies again: its readiness check when
the app declares ``health``, a DB request when it declares ``db``, else its
ready path.
"""

from __future__ import annotations

import time

import httpx

from infratests.errors import ServiceError
from infratests.stack.topology import Stack

__all__ = ["wait_until_serving"]


def wait_until_serving(stack: Stack, timeout_s: float = 30.0) -> float:
    """Block until every app replica answers 200 again; the seconds it took. Raises ServiceError naming
    the replicas that did not within ``timeout_s``."""
    capabilities = stack.profile.capabilities()
    paths = [path for path, needed in (("/health/ready", "health"), ("/db/sleep?s=0", "db")) if needed in capabilities]
    paths = paths or [stack.profile.app.ready_path]
    started = time.monotonic()
    waiting = {(service.name, path): service for service in stack if service.kind == "app" and service.is_running()
               for path in paths}
    last: dict[tuple[str, str], str] = {}
    while waiting:
        for (name, path), service in list(waiting.items()):
            last[name, path] = _answer(service.endpoint.url + path)
            if last[name, path] == "200":
                del waiting[name, path]
        if not waiting:
            break
        if time.monotonic() - started > timeout_s:
            raise ServiceError(f"the stack did not serve again within {timeout_s:g} s after the test's faults "
                               "were healed: " + ", ".join(f"GET {path} on {name} answered {last[name, path]}"
                                                           for name, path in waiting), next(iter(waiting))[0])
        time.sleep(0.1)
    return time.monotonic() - started


def _answer(url: str) -> str:
    try:
        return str(httpx.get(url, timeout=5.0).status_code)
    except httpx.HTTPError as error:
        return type(error).__name__
