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

__all__ = ["FailedAfterDebit", "InsufficientFunds", "bank_routes", "transfer"]

_RETRYABLE = (errors.SerializationFailure, errors.DeadlockDetected)


class InsufficientFunds(Exception):
    """The debit would make a balance negative; the transaction rolls back (HTTP 409)."""


class FailedAfterDebit(RuntimeError):
    """``fail_after_debit``: the contract's way to make a credit fail after its debit ran (C-TX-1)."""


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


async def transfer(state: Any, src: int, dst: int, amount: int, fail_after_debit: bool = False) -> None:
    """Move ``amount`` atomically; raise :class:`InsufficientFunds` (nothing changed) or LookupError;
    ``fail_after_debit`` raises :class:`FailedAfterDebit` between debit and credit."""
    settings = state.settings
    if not settings.transfer_tx:
        await _transfer_autocommit(state, src, dst, amount, fail_after_debit)
        return
    isolation = settings.isolation
    for attempt in range(settings.tx_retries + 1):
        try:
            async with transaction(state.pool, settings, isolation=isolation) as conn:
                await _move(conn, src, dst, amount, isolation == "read_committed", fail_after_debit)
            return
        except _RETRYABLE:
            if attempt == settings.tx_retries:
                raise
            await asyncio.sleep(random.uniform(0, 0.005 * 2**attempt))


async def _move(conn: Any, src: int, dst: int, amount: int, lock_rows: bool, fail_after_debit: bool) -> None:
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
    if fail_after_debit:
        raise FailedAfterDebit(f"failing {src}->{dst} after its debit, as asked")
    await conn.execute("UPDATE refapp_accounts SET balance = balance + %s WHERE id = %s", (amount, dst))


async def _transfer_autocommit(state: Any, src: int, dst: int, amount: int, fail_after_debit: bool) -> None:
    """Mutant REFAPP_TRANSFER_TX=off: check, debit and credit as separate autocommit statements."""
    async with state.pool.connection() as conn:
        cur = await conn.execute("SELECT balance FROM refapp_accounts WHERE id = %s", (src,))
        row = await cur.fetchone()
        if row is None:
            raise LookupError(f"unknown account {src}")
        if row[0] < amount:
            raise InsufficientFunds(f"account {src} has {row[0]} < {amount}")
        await conn.execute("UPDATE refapp_accounts SET balance = balance - %s WHERE id = %s", (amount, src))
        if fail_after_debit:
            raise FailedAfterDebit(f"failing {src}->{dst} after its debit, as asked")
        await asyncio.sleep(0.002)  # widen the window a crash or a racing transfer can fall into
        await conn.execute("UPDATE refapp_accounts SET balance = balance + %s WHERE id = %s", (amount, dst))


async def transfers(request: Request) -> JSONResponse:
    """POST {"from","to","amount"[,"fail_after_debit"]}: 200 done, 409 insufficient funds, 404 unknown
    account, 400 bad input, 500 when asked to fail after the debit (rolled back)."""
    try:
        body = await request.json()
        src, dst, amount = int(body["from"]), int(body["to"]), int(body["amount"])
        fail_after_debit = bool(body.get("fail_after_debit", False))
    except (ValueError, KeyError, TypeError):
        return JSONResponse({"error": "body must be {from, to, amount} integers"}, status_code=400)
    if amount <= 0 or src == dst:
        return JSONResponse({"error": "amount must be > 0 and from != to"}, status_code=400)
    try:
        await transfer(request.app.state.refapp, src, dst, amount, fail_after_debit)
    except FailedAfterDebit as exc:
        return JSONResponse({"error": str(exc)}, status_code=500)
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
