"""Lock-protected jobs (C-LOCK-1..5): workers contend for a job through the app; its sections become a history.

Workers call ``POST /jobs/{name}/run`` and record each call as a ``run``
operation: ``ok`` when granted (2xx), ``fail`` when the app answered that it
did not run the job, or lost its lock during it (the contract's answers:
:data:`NOT_GRANTED`, :data:`LOST`), ``info`` when no answer came. The critical sections themselves are read back
from ``GET /jobs/{name}/sections``, timed by Postgres ``clock_timestamp()``,
and turned by :func:`sections_history` into the ops the mutex checker
(``f="section"``) and the fencing checker (``f="write"``) take.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx

from infratests.history import History, Op, OpType, Recorder

__all__ = ["LOST", "NOT_GRANTED", "Background", "contend", "run_job", "sections", "sections_history",
           "until_granted", "wait_for_section"]

#: The lock was not granted: held by another, or fewer than a majority of nodes answered.
NOT_GRANTED = frozenset({409, 423, 429, 503})
#: The lock was lost during the job (an extension failed) and the job stopped.
LOST = frozenset({409, 410, 500, 503})


def run_job(client: httpx.Client, recorder: Recorder, process: int | str, job: str,
            work_ms: int) -> httpx.Response | None:
    """One ``POST /jobs/{job}/run`` recorded as a ``run`` op; the response, or None if none came."""
    recorder.record(process, OpType.INVOKE, "run", {"job": job, "work_ms": work_ms})
    try:
        response = client.post(f"/jobs/{job}/run", params={"work_ms": work_ms})
    except httpx.HTTPError as error:
        recorder.record(process, OpType.INFO, "run", {"job": job}, repr(error)[:200], status=0)
        return None
    body = _json(response)
    kind = OpType.OK if 200 <= response.status_code < 300 else (
        OpType.FAIL if response.status_code in NOT_GRANTED | LOST else OpType.INFO)
    recorder.record(process, kind, "run", {"job": job, "token": body.get("token")},
                    None if kind is OpType.OK else f"HTTP {response.status_code}",
                    status=response.status_code, instance=body.get("instance"),
                    fenced_ok=body.get("fenced_ok"), completed=body.get("completed"))
    return response


def contend(clients: Sequence[httpx.Client], recorder: Recorder, job: str, duration_s: float,
            work_ms: int, workers_per_client: int = 2, pause_s: float = 0.03) -> None:
    """Workers (threads) on every client call the job for ``duration_s``, ``pause_s`` apart after a refusal."""
    stop_at = time.monotonic() + duration_s

    def worker(client: httpx.Client, process: str) -> None:
        while time.monotonic() < stop_at:
            answer = run_job(client, recorder, process, job, work_ms)
            if answer is None or not 200 <= answer.status_code < 300:
                time.sleep(pause_s)  # refused: retry soon, but stay under nginx's API rate limit

    threads = [threading.Thread(target=worker, args=(client, f"w{i}-{k}"), daemon=True)
               for i, client in enumerate(clients) for k in range(workers_per_client)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(duration_s + 60)


def sections(client: httpx.Client, job: str) -> list[dict[str, Any]]:
    """Every recorded attempt of ``job`` (``GET /jobs/{job}/sections``)."""
    response = client.get(f"/jobs/{job}/sections")
    response.raise_for_status()
    return list(response.json()["sections"])


def wait_for_section(client: httpx.Client, job: str, timeout_s: float = 15.0,
                     instance: str | None = None) -> dict[str, Any]:
    """Poll until ``job`` has a started section (of ``instance``, if given); return the first one."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = [row for row in sections(client, job) if instance in (None, row["instance"])]
        if found:
            return found[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job!r} never started a section within {timeout_s} s")
        time.sleep(0.02)


def until_granted(client: httpx.Client, recorder: Recorder, job: str, timeout_s: float,
                  work_ms: int = 200, process: str = "contender") -> httpx.Response | None:
    """Retry the job until it is granted (200); None if it never was within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        response = run_job(client, recorder, process, job, work_ms)
        if response is not None and 200 <= response.status_code < 300:
            return response
        time.sleep(0.05)
    return None


class Background:
    """One call in a thread (e.g. a holder's long job): ``result()`` is its return value or its exception."""

    def __init__(self, call: Callable[[], Any]) -> None:
        self._outcome: Any = None
        self._thread = threading.Thread(target=self._run, args=(call,), daemon=True)
        self._thread.start()

    def _run(self, call: Callable[[], Any]) -> None:
        try:
            self._outcome = call()
        except Exception as error:  # noqa: BLE001 - the scenario inspects what happened
            self._outcome = error

    def result(self, timeout: float = 60.0) -> Any:
        self._thread.join(timeout)
        return self._outcome


def sections_history(rows: Sequence[Mapping[str, Any]], job: str) -> History:
    """The sections as ops on the database clock: ``section`` (mutex) and ``write`` (fencing).

    An accepted section with both times is ``ok``; any other attempt may have
    run for a while (``info`` section, without an end) and its end write did
    not take effect (``fail`` write: rejected by the fence, or never made).
    """
    events: list[Op] = []
    for index, row in enumerate(rows):
        start, end, accepted = float(row["start"]), row.get("end"), bool(row.get("accepted"))
        end = float(end) if end is not None else None
        ident = row.get("id", index)
        value = {"job": job, "token": row.get("token"), "start": start, "end": end,
                 "holder": f"{row.get('instance')}#{ident}", "instance": row.get("instance")}
        done = end if end is not None else start
        ok = accepted and end is not None
        for f in ("section", "write"):
            process = f"{f}-{ident}"
            events.append(Op(process, OpType.INVOKE, f, value, start, start))
            kind = OpType.OK if ok else (OpType.INFO if f == "section" else OpType.FAIL)
            events.append(Op(process, kind, f, value, done, done,
                             None if ok else "not accepted", {"completed": row.get("completed")}))
    events.sort(key=lambda op: (op.time, op.type is not OpType.INVOKE))
    return History.of(events)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
