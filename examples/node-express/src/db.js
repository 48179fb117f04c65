'use strict';

// PostgreSQL through PgBouncer in transaction pooling mode.
//
// Each transaction may run on a different server connection, so:
//   * no session state: no session SET, no named prepared statements (pg only
//     names a statement when a query config has `name`; we never do);
//   * the statement timeout is `SET LOCAL` as the first statement of every
//     transaction. pg's `statement_timeout` connection option is sent as a
//     startup parameter, which PgBouncer 1.18 refuses ("unsupported startup
//     parameter"), and a session SET would leak to other clients.
//
// Dead connections (after a PgBouncer or Postgres restart, a cut link) show up
// on the first statement of a transaction, before any of the caller's work:
// the connection is destroyed and the transaction starts again on another one,
// so no request fails because of a connection that died while idle.

const { setTimeout: sleep } = require('node:timers/promises');
const pg = require('pg');
const { isConnectionError, PG } = require('./errors');
const { requestContext } = require('./logger');

// BIGINT (int8) comes back as a string by default; our amounts and tokens stay
// below 2^53, so numbers are exact.
const typeParsers = {
  getTypeParser(oid, format) {
    if (oid === pg.types.builtins.INT8 && format !== 'binary') return (value) => Number(value);
    return pg.types.getTypeParser(oid, format);
  },
};

const ISOLATION_SQL = {
  read_committed: 'READ COMMITTED',
  repeatable_read: 'REPEATABLE READ',
  serializable: 'SERIALIZABLE',
};

// Start-up: a serialised, idempotent schema (replicas start at the same time;
// an advisory *transaction* lock is safe with transaction pooling).
const SCHEMA_LOCK_KEY = 4_242_001;
const SCHEMA = `
  CREATE TABLE IF NOT EXISTS bank_accounts (
    id integer PRIMARY KEY,
    balance bigint NOT NULL CHECK (balance >= 0)
  );
  CREATE SEQUENCE IF NOT EXISTS job_fencing_tokens;
  CREATE TABLE IF NOT EXISTS job_fences (
    job text PRIMARY KEY,
    token bigint NOT NULL
  );
  CREATE TABLE IF NOT EXISTS job_sections (
    id bigserial PRIMARY KEY,
    job text NOT NULL,
    token bigint NOT NULL,
    instance text NOT NULL,
    start_ts timestamptz NOT NULL,
    end_ts timestamptz,
    accepted boolean NOT NULL DEFAULT false,
    completed boolean NOT NULL DEFAULT false
  );
  CREATE INDEX IF NOT EXISTS job_sections_job_idx ON job_sections (job, id);
`;

// Errors that will not go away by waiting (wrong password, no such database).
const PERMANENT_STARTUP_ERRORS = new Set([PG.INVALID_PASSWORD, PG.INVALID_AUTHORIZATION, PG.INVALID_CATALOG]);

// The error also reaches the query that was running (and so the caller);
// this listener only keeps the event from being an uncaught exception.
function onCheckedOutError() {}

const EXPIRED = Symbol('expired');

class Database {
  /**
   * @param {object} options
   * @param {string} options.url            libpq URL (DATABASE_URL)
   * @param {string} options.applicationName Postgres application_name (INSTANCE)
   * @param {object} options.pool           { max, min, acquireTimeoutMs, idleTimeoutMs, maxLifetimeS, statementTimeoutMs }
   * @param {object} options.log            pino logger
   */
  constructor({ url, applicationName, pool, log, name = 'db' }) {
    this.settings = pool;
    this.log = log.child({ component: name });
    this.pool = new pg.Pool({
      connectionString: url,
      application_name: applicationName,
      max: pool.max,
      min: pool.min,
      idleTimeoutMillis: pool.idleTimeoutMs,
      maxLifetimeSeconds: pool.maxLifetimeS,
      // Bounds both opening a connection and waiting for a free one: an
      // exhausted pool answers an error within the acquire timeout, never hangs.
      connectionTimeoutMillis: pool.acquireTimeoutMs,
      // A safety net above the server-side statement timeout, for answers the
      // network never delivers; a client that hit it is destroyed.
      query_timeout: pool.statementTimeoutMs ? pool.statementTimeoutMs + 5000 : undefined,
      keepAlive: true,
      types: typeParsers,
    });
    // An idle client whose server went away emits 'error' on the pool; without
    // a listener that is an uncaught exception that kills the process.
    // (Outside any request context: the socket may have been opened by a request long gone.)
    this.pool.on('error', (err) => {
      requestContext.exit(() =>
        this.log.warn({ err: err.message, code: err.code }, 'idle database connection failed; removed from the pool'),
      );
    });
    this.pool.on('acquire', () => this.#warnIfBusy());
    this.lastBusyWarning = 0;
    this.minKeeper = undefined;
  }

  /** Pool numbers for /metrics and /health/detailed. */
  stats() {
    const total = this.pool.totalCount;
    const idle = this.pool.idleCount;
    return {
      total,
      idle,
      active: total - idle,
      waiting: this.pool.waitingCount,
      max: this.settings.max,
      min: this.settings.min,
    };
  }

  /**
   * Run `work(client)` inside BEGIN .. COMMIT; any error rolls everything back.
   * `isolation`: read_committed (default), repeatable_read or serializable.
   */
  async transaction(work, { isolation = 'read_committed', readOnly = false, timeoutMs } = {}) {
    const client = await this.#begin(isolation, readOnly, timeoutMs ?? this.settings.acquireTimeoutMs);
    let result;
    try {
      result = await work(client);
      await client.query('COMMIT');
    } catch (err) {
      await this.#abandon(client, err);
      throw err;
    }
    this.#checkin(client);
    return result;
  }

  /** One statement in its own transaction (so the statement timeout applies). */
  async query(text, values, options) {
    return this.transaction((client) => client.query(text, values), options);
  }

  /**
   * Readiness: `SELECT 1` through the pool, every step bounded by `timeoutMs`
   * (a connection, the transaction's first statement, the query). A pool
   * busy for longer than that reads as not ready, like a dead database: the
   * replica cannot serve either way, and the pool stays within pool_max.
   */
  async ping(timeoutMs) {
    await this.transaction((client) => client.query({ text: 'SELECT 1', query_timeout: timeoutMs }), {
      timeoutMs,
      readOnly: true,
    });
  }

  async #begin(isolation, readOnly, timeoutMs) {
    const level = ISOLATION_SQL[isolation];
    if (!level) throw new Error(`unknown isolation level ${isolation}`);
    const timeout = this.settings.statementTimeoutMs;
    // One round trip; SET LOCAL is the first statement inside the transaction.
    const preamble =
      `BEGIN ISOLATION LEVEL ${level}${readOnly ? ' READ ONLY' : ''};` +
      (timeout ? ` SET LOCAL statement_timeout = ${Number(timeout)};` : '');
    const deadline = Date.now() + timeoutMs;
    for (let attempt = 1; ; attempt += 1) {
      const client = await this.#checkout(attempt === 1 ? timeoutMs : deadline - Date.now());
      try {
        // PgBouncer may queue us while its own server pool is full: that wait
        // counts against the acquire timeout too.
        await client.query({ text: preamble, query_timeout: Math.max(1, deadline - Date.now()) });
        return client;
      } catch (err) {
        this.#checkin(client, err); // destroy it: its state is unknown
        if (!isConnectionError(err) || Date.now() >= deadline || attempt > this.settings.max) throw err;
        this.log.warn({ err: err.message, attempt }, 'dead database connection discarded; retrying on another');
      }
    }
  }

  /**
   * Take a client from the pool. While it is checked out the pool no longer
   * listens to its 'error' events, and pg emits one for a broken socket even
   * when a query also receives the error: without our own listener that is an
   * uncaught exception, and the process dies.
   */
  async #checkout(timeoutMs = this.settings.acquireTimeoutMs) {
    const pending = this.pool.connect(); // bounded by the pool's acquire timeout
    let client;
    if (timeoutMs >= this.settings.acquireTimeoutMs) {
      client = await pending;
    } else {
      // A shorter bound for this caller (readiness): give up waiting, and hand
      // the connection straight back if it arrives later.
      let timer;
      const expired = new Promise((resolve) => {
        timer = setTimeout(resolve, Math.max(0, timeoutMs), EXPIRED);
      });
      const first = await Promise.race([pending, expired]).finally(() => clearTimeout(timer));
      if (first === EXPIRED) {
        pending.then((late) => late.release(), () => {});
        throw new Error('timeout exceeded when trying to connect (readiness bound)');
      }
      client = first;
    }
    client.on('error', onCheckedOutError);
    return client;
  }

  /** Back to the pool; with an error, the client is destroyed instead. */
  #checkin(client, err) {
    client.off('error', onCheckedOutError);
    client.release(err);
  }

  async #abandon(client, cause) {
    if (isConnectionError(cause)) {
      this.#checkin(client, cause);
      return;
    }
    try {
      await client.query('ROLLBACK');
      this.#checkin(client);
    } catch (err) {
      this.#checkin(client, err);
    }
  }

  #warnIfBusy() {
    const { active, max } = this.stats();
    const now = Date.now();
    if (active / max > 0.8 && now - this.lastBusyWarning > 10_000) {
      this.lastBusyWarning = now;
      this.log.warn({ pool: this.stats() }, 'database pool usage above 80%');
    }
  }

  /** Creates the tables if they are missing. */
  async ensureSchema() {
    await this.transaction(async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK_KEY]);
      await client.query(SCHEMA);
    });
  }

  /**
   * Start-up: wait until the database answers and the schema exists. Transient
   * failures are retried (with backoff, until `timeoutMs`, 0 = forever);
   * permanent ones (bad password, no such database) throw at once.
   */
  async waitUntilReady({ timeoutMs = 0, signal } = {}) {
    const started = Date.now();
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.ensureSchema();
        return;
      } catch (err) {
        if (PERMANENT_STARTUP_ERRORS.has(err.code)) throw err;
        if (timeoutMs && Date.now() - started >= timeoutMs) throw err;
        const delay = Math.min(2000, 100 * 2 ** Math.min(attempt, 5));
        this.log.warn({ err: err.message, code: err.code, attempt, retry_in_ms: delay }, 'database not ready yet');
        await sleep(delay, undefined, { signal });
      }
    }
  }

  /** Keep `min` connections open: at start, and again after connections died or aged out. */
  async fillToMin() {
    const missing = this.settings.min - this.pool.totalCount;
    if (missing <= 0 || this.pool.waitingCount > 0) return;
    // The pool hands out idle clients first: hold those and `missing` new ones at once.
    const wanted = this.pool.idleCount + missing;
    const clients = await Promise.allSettled(Array.from({ length: wanted }, () => this.#checkout()));
    for (const outcome of clients) {
      if (outcome.status === 'fulfilled') this.#checkin(outcome.value);
    }
  }

  keepMinOpen(intervalMs = 5000) {
    this.minKeeper = setInterval(() => {
      this.fillToMin().catch((err) => this.log.debug({ err: err.message }, 'could not open min connections'));
    }, intervalMs);
    this.minKeeper.unref();
  }

  async close() {
    clearInterval(this.minKeeper);
    await this.pool.end();
  }
}

module.exports = { Database };
