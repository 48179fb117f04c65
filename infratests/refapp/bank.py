"""The bank workload (C-TX-1, C-TX-3): seed, transfer, read all balances in one snapshot."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from psycopg import errors
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from infratests.refapp.db import transaction

__all__ = ["InsufficientFunds", "bank_routes", "transfer"]

_RETRYABLE = (errors.SerializationFailure, errors.DeadlockDetected)


class InsufficientFunds(Exception):
    """The debit would make a balance negative; the transaction rolls back (HTTP 409)."""


async def seed(request: Request) -> JSONResponse:
    """Reset the table to ``accounts`` rows of ``balance`` each (idempotent)."""
    body = await request.json()
    count, balance = int(body.get("accounts", 5)), int(body.get("balance", 100))
    state = request.app.state.refapp
    async with transaction(state.pool, state.settings) as conn:
        await conn.execute("DELETE FROM refapp_accounts")
        async with conn.cursor() as cur:
            await cur.executemany(
                "INSERT INTO refapp_accounts (id, balance) VALUES (%s, %s)",
                [(i, balance) for i in range(count)],
            )
    return JSONResponse({"accounts": count, "balance": balance, "total": count * balance})


async def accounts(request: Request) -> JSONResponse:
    """All balances read in one transaction (one snapshot at REPEATABLE READ)."""
    state = request.app.state.refapp
    async with transaction(state.pool, state.settings, isolation="repeatable_read") as conn:
        cur = await conn.execute("SELECT id, balance FROM refapp_accounts ORDER BY id")
        rows = await cur.fetchall()
    balances = {str(i): b for i, b in rows}
    return JSONResponse({"balances": balances, "total": sum(balances.values())})


async def transfer(state: Any, src: int, dst: int, amount: int) -> None:
    """Move ``amount`` atomically; raise :class:`InsufficientFunds` (nothing changed) or LookupError."""
    settings = state.settings
    if not settings.transfer_tx:
        await _transfer_autocommit(state, src, dst, amount)
        return
    isolation = settings.isolation
    for attempt in range(settings.tx_retries + 1):
        try:
            async with transaction(state.pool, settings, isolation=isolation) as conn:
                await _move(conn, src, dst, amount, lock_rows=isolation == "read_committed")
            return
        except _RETRYABLE:
            if attempt == settings.tx_retries:
                raise
            await asyncio.sleep(random.uniform(0, 0.005 * 2**attempt))


async def _move(conn: Any, src: int, dst: int, amount: int, lock_rows: bool) -> None:
    # Lock both rows in id order so two opposite transfers cannot deadlock.
    lock = " FOR UPDATE" if lock_rows else ""
    cur = await conn.execute(
        f"SELECT id, balance FROM refapp_accounts WHERE id = ANY(%s) ORDER BY id{lock}", ([src, dst],)
    )
    balances = dict(await cur.fetchall())
    if src not in balances or dst not in balances:
        raise LookupError(f"unknown account in {src}->{dst}")
    if balances[src] < amount:
        raise InsufficientFunds(f"account {src} has {balances[src]} < {amount}")
    await conn.execute("UPDATE refapp_accounts SET balance = balance - %s WHERE id = %s", (amount, src))
    await conn.execute("UPDATE refapp_accounts SET balance = balance + %s WHERE id = %s", (amount, dst))


async def _transfer_autocommit(state: Any, src: int, dst: int, amount: int) -> None:
    """Mutant REFAPP_TRANSFER_TX=off: check, debit and credit as separate autocommit statements."""
    async with state.pool.connection() as conn:
        cur = await conn.execute("SELECT balance FROM refapp_accounts WHERE id = %s", (src,))
        row = await cur.fetchone()
        if row is None:
            raise LookupError(f"unknown account {src}")
        if row[0] < amount:
            raise InsufficientFunds(f"account {src} has {row[0]} < {amount}")
        await conn.execute("UPDATE refapp_accounts SET balance = balance - %s WHERE id = %s", (amount, src))
        await asyncio.sleep(0.002)  # widen the window a crash or a racing transfer can fall into
        await conn.execute("UPDATE refapp_accounts SET balance = balance + %s WHERE id = %s", (amount, dst))


async def transfers(request: Request) -> JSONResponse:
    """POST {"from","to","amount"}: 200 done, 409 insufficient funds, 404 unknown account, 400 bad input."""
    try:
        body = await request.json()
        src, dst, amount = int(body["from"]), int(body["to"]), int(body["amount"])
    except (ValueError, KeyError, TypeError):
        return JSONResponse({"error": "body must be {from, to, amount} integers"}, status_code=400)
    if amount <= 0 or src == dst:
        return JSONResponse({"error": "amount must be > 0 and from != to"}, status_code=400)
    try:
        await transfer(request.app.state.refapp, src, dst, amount)
    except InsufficientFunds as exc:
        return JSONResponse({"error": str(exc)}, status_code=409)
    except LookupError as exc:
        return JSONResponse({"error": str(exc)}, status_code=404)
    return JSONResponse({"from": src, "to": dst, "amount": amount, "status": "ok"})


bank_routes = [
    Route("/accounts/seed", seed, methods=["POST"]),
    Route("/accounts", accounts),
    Route("/transfers", transfers, methods=["POST"]),
]
