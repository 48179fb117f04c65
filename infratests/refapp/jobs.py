"""Lock-protected jobs (C-LOCK-1..5): Redlock, a fencing token, and token-guarded writes to Postgres.

Fencing token: ``nextval('refapp_fence_seq')`` in Postgres, taken after the lock
is granted. The storage that checks tokens is the one that issues them, so tokens
are strictly increasing without any Redis majority bookkeeping. A section is
recorded by two writes, each one statement that holds the job's fence row lock:
*begin* registers the token (rejected if a higher one is registered) and stamps
``start_ts``; *end* stamps ``end_ts`` and sets ``accepted`` only if no higher
token was registered meanwhile. Accepted sections of one job therefore never
overlap; with REFAPP_FENCING=off both writes are unguarded and a paused holder's
section overlaps its successor's (C-LOCK-4).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from infratests.refapp.db import transaction
from infratests.refapp.redlock import Lease, LockContended, LockUnavailable, Redlock
from infratests.refapp.routes import query_number

__all__ = ["BEGIN_FENCED", "END_FENCED", "job_routes"]

log = logging.getLogger("refapp.jobs")

BEGIN_FENCED = """
WITH f AS (
  INSERT INTO refapp_job_fence AS jf (job, token) VALUES (%(job)s, %(token)s)
  ON CONFLICT (job) DO UPDATE SET token = EXCLUDED.token WHERE jf.token < EXCLUDED.token
  RETURNING token)
INSERT INTO refapp_job_sections (job, token, instance, start_ts)
SELECT %(job)s, f.token, %(instance)s, clock_timestamp() FROM f RETURNING id
"""
BEGIN_UNFENCED = """
INSERT INTO refapp_job_sections (job, token, instance, start_ts)
VALUES (%(job)s, %(token)s, %(instance)s, clock_timestamp()) RETURNING id
"""
END_FENCED = """
WITH f AS (SELECT token FROM refapp_job_fence WHERE job = %(job)s FOR UPDATE)
UPDATE refapp_job_sections s SET end_ts = clock_timestamp(), accepted = true, completed = %(completed)s
FROM f WHERE s.id = %(id)s AND s.token = f.token RETURNING s.start_ts, s.end_ts
"""
END_UNFENCED = """
UPDATE refapp_job_sections SET end_ts = clock_timestamp(), accepted = true, completed = %(completed)s
WHERE id = %(id)s RETURNING start_ts, end_ts
"""


async def _sql(state: Any, query: str, params: dict[str, Any]) -> tuple[Any, ...] | None:
    """One statement in its own transaction, so the statement timeout bounds fence-lock waits too."""
    async with transaction(state.pool, state.settings) as conn:
        cur = await conn.execute(query.encode(), params)
        return await cur.fetchone()


async def _keep_extended(lock: Redlock, lease: Lease, work: asyncio.Task[None]) -> None:
    """Extend every TTL/3; a failed extension cancels the job (C-LOCK-5)."""
    while True:
        await asyncio.sleep(lock.ttl_ms / 3000)
        try:
            lease = await lock.extend(lease)
        except LockUnavailable:
            log.warning("lock extension failed; stopping job", extra={"resource": lease.resource})
            work.cancel()
            return


async def _critical_section(
    state: Any, job: str, token: int, work_ms: int, lock: Redlock, lease: Lease
) -> dict:
    fencing = state.settings.fencing
    params = {"job": job, "token": token, "instance": state.settings.instance}
    row = await _sql(state, BEGIN_FENCED if fencing else BEGIN_UNFENCED, params)
    if row is None:
        return {"fenced_ok": False, "start": None, "end": None, "completed": False}
    work = asyncio.ensure_future(asyncio.sleep(work_ms / 1000))
    keeper = None
    if state.settings.lock_extend and lock.ttl_ms:
        keeper = asyncio.ensure_future(_keep_extended(lock, lease, work))
    completed = True
    try:
        await work
    except asyncio.CancelledError:
        if not work.cancelled() or asyncio.current_task().cancelling():  # type: ignore[union-attr]
            raise
        completed = False
    finally:
        if keeper is not None:
            keeper.cancel()
    end = await _sql(
        state, END_FENCED if fencing else END_UNFENCED, {**params, "id": row[0], "completed": completed}
    )
    if end is None:
        return {"fenced_ok": False, "start": None, "end": None, "completed": completed}
    return {"fenced_ok": True, "start": end[0].timestamp(), "end": end[1].timestamp(), "completed": completed}


async def run_job(request: Request) -> JSONResponse:
    """POST /jobs/{name}/run?work_ms=N: 200 {job, token, start, end, fenced_ok}; 409 held; 503 no majority."""
    state = request.app.state.refapp
    job = request.path_params["name"]
    work_ms = int(query_number(request, "work_ms", 100))
    lock = Redlock(
        state.lock_clients,
        state.settings.lock_ttl_ms,
        state.settings.lock_drift_factor,
        state.settings.lock_node_timeout_ms / 1000,
        state.settings.lock_quorum,
        state.settings.lock_owner_check,
    )
    try:
        lease = await lock.acquire(f"{state.settings.cache_prefix}lock:{job}")
    except LockContended as exc:
        state.metrics.locks.labels("contended").inc()
        return JSONResponse({"job": job, "error": str(exc)}, status_code=409)
    except LockUnavailable as exc:
        state.metrics.locks.labels("unavailable").inc()
        return JSONResponse({"job": job, "error": str(exc)}, status_code=503)
    state.metrics.locks.labels("acquired").inc()
    try:
        token = (await _sql(state, "SELECT nextval('refapp_fence_seq')", {}))[0]  # type: ignore[index]
        result = await _critical_section(state, job, token, work_ms, lock, lease)
    finally:
        await lock.release(lease)
    status = 200 if result["completed"] else 409
    return JSONResponse(
        {"job": job, "token": token, "instance": state.settings.instance, **result}, status_code=status
    )


async def sections(request: Request) -> JSONResponse:
    """GET /jobs/{name}/sections: every recorded attempt, times as epoch seconds from the DB clock.

    ``accepted`` sections passed the fence on both writes (the mutex checker's input);
    ``end`` is null for an attempt whose end write was rejected or never made.
    """
    state = request.app.state.refapp
    async with transaction(state.pool, state.settings) as conn:
        cur = await conn.execute(
            "SELECT id, token, instance, start_ts, end_ts, accepted, completed FROM refapp_job_sections"
            " WHERE job = %s ORDER BY id",
            (request.path_params["name"],),
        )
        rows = await cur.fetchall()
    keys = ("id", "token", "instance", "start", "end", "accepted", "completed")
    out = [dict(zip(keys, [v.timestamp() if hasattr(v, "timestamp") else v for v in row], strict=True)) for row in rows]
    return JSONResponse({"job": request.path_params["name"], "sections": out})


job_routes = [
    Route("/jobs/{name}/run", run_job, methods=["POST"]),
    Route("/jobs/{name}/sections", sections),
]
