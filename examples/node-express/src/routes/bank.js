'use strict';

// The bank workload: money moves between accounts and the total never changes.
//
//   POST /accounts/seed {"accounts": n, "balance": b}  n accounts (ids 0..n-1) of b each
//   POST /transfers {"from", "to", "amount", "fail_after_debit"?}
//        200 done; 409 insufficient funds; 404 unknown account; 400 bad input;
//        fail_after_debit: debit, then fail inside the same transaction (500,
//        nothing changed)
//   GET  /accounts  {"balances": {"0": b, ...}, "total"} read in one snapshot
//
// Isolation (TRANSFER_ISOLATION): read_committed locks both rows with
// SELECT ... FOR UPDATE in id order (two opposite transfers cannot deadlock);
// serializable lets Postgres detect conflicts and retries on 40001/40P01 with
// jittered exponential backoff.

const express = require('express');
const { setTimeout: sleep } = require('node:timers/promises');
const { HttpError, badRequest, PG } = require('../errors');

const RETRYABLE = new Set([PG.SERIALIZATION_FAILURE, PG.DEADLOCK_DETECTED]);
const MAX_ACCOUNTS = 100_000;

const isAmount = (value) => Number.isSafeInteger(value) && value >= 0;

function bankRouter({ db, config, log }) {
  const router = express.Router();
  const json = express.json({ limit: '16kb' });

  router.post('/accounts/seed', json, async (req, res) => {
    const { accounts, balance } = req.body ?? {};
    if (!Number.isSafeInteger(accounts) || accounts < 0 || accounts > MAX_ACCOUNTS) {
      throw badRequest(`accounts must be an integer between 0 and ${MAX_ACCOUNTS}`);
    }
    if (!isAmount(balance)) throw badRequest('balance must be a non-negative integer below 2^53');
    await db.transaction(async (client) => {
      await client.query('DELETE FROM bank_accounts');
      await client.query(
        'INSERT INTO bank_accounts (id, balance) SELECT g, $2 FROM generate_series(0, $1::int - 1) AS g',
        [accounts, balance],
      );
    });
    log.info({ accounts, balance }, 'accounts seeded');
    res.json({ accounts, balance, total: accounts * balance });
  });

  router.post('/transfers', json, async (req, res) => {
    const { from, to, amount, fail_after_debit: failAfterDebit = false } = req.body ?? {};
    if (![from, to].every(Number.isSafeInteger)) throw badRequest('from and to must be account ids (integers)');
    if (!isAmount(amount) || amount === 0) throw badRequest('amount must be a positive integer below 2^53');
    if (from === to) throw badRequest('from and to must differ');
    if (typeof failAfterDebit !== 'boolean') throw badRequest('fail_after_debit must be a boolean');

    const attempts = await transfer({ from, to, amount, failAfterDebit });
    res.json({ status: 'ok', from, to, amount, attempts });
  });

  router.get('/accounts', async (req, res) => {
    const { rows } = await db.query('SELECT id, balance FROM bank_accounts ORDER BY id', [], {
      isolation: 'repeatable_read',
      readOnly: true,
    });
    const balances = Object.fromEntries(rows.map((row) => [String(row.id), row.balance]));
    const total = rows.reduce((sum, row) => sum + row.balance, 0);
    res.json({ balances, total });
  });

  async function transfer(order) {
    const serializable = config.isolation === 'serializable';
    for (let attempt = 1; ; attempt += 1) {
      try {
        await db.transaction((client) => move(client, order, { lockRows: !serializable }), {
          isolation: config.isolation,
        });
        return attempt;
      } catch (err) {
        if (!RETRYABLE.has(err.code) || attempt > config.transferRetries) throw err;
        const ceiling = Math.min(200, 5 * 2 ** attempt);
        await sleep(ceiling / 2 + Math.random() * (ceiling / 2));
      }
    }
  }

  return router;
}

async function move(client, { from, to, amount, failAfterDebit }, { lockRows }) {
  const { rows } = await client.query(
    `SELECT id, balance FROM bank_accounts WHERE id = ANY($1::int[]) ORDER BY id${lockRows ? ' FOR UPDATE' : ''}`,
    [[from, to]],
  );
  const balances = new Map(rows.map((row) => [row.id, row.balance]));
  for (const id of [from, to]) {
    if (!balances.has(id)) throw new HttpError(404, `unknown account ${id}`);
  }
  if (balances.get(from) < amount) {
    throw new HttpError(409, `insufficient funds: account ${from} has ${balances.get(from)}, needs ${amount}`);
  }
  await client.query('UPDATE bank_accounts SET balance = balance - $2 WHERE id = $1', [from, amount]);
  if (failAfterDebit) {
    // Test hook (C-TX-1): a failure between debit and credit must roll back the debit.
    throw new HttpError(500, 'transfer failed after the debit (fail_after_debit); rolled back');
  }
  await client.query('UPDATE bank_accounts SET balance = balance + $2 WHERE id = $1', [to, amount]);
}

module.exports = { bankRouter };
