'use strict';

// Errors that carry their HTTP answer, and the mapping of infrastructure
// errors (database, Redis) to answers. Anything not mapped is a bug: 500 and
// an error-tracker event.

class HttpError extends Error {
  constructor(status, message, { expose = true, headers, details, cause } = {}) {
    super(message, cause ? { cause } : undefined);
    this.name = 'HttpError';
    this.status = status;
    this.expose = expose;
    this.headers = headers;
    this.details = details;
  }
}

const badRequest = (message) => new HttpError(400, message);

// SQLSTATEs (https://www.postgresql.org/docs/current/errcodes-appendix.html)
const PG = Object.freeze({
  QUERY_CANCELED: '57014', // statement_timeout
  SERIALIZATION_FAILURE: '40001',
  DEADLOCK_DETECTED: '40P01',
  ADMIN_SHUTDOWN: '57P01',
  CRASH_SHUTDOWN: '57P02',
  CANNOT_CONNECT_NOW: '57P03',
  INVALID_PASSWORD: '28P01',
  INVALID_AUTHORIZATION: '28000',
  INVALID_CATALOG: '3D000',
});

/**
 * True when the error says the connection itself is unusable (closed, reset,
 * refused, a server shutting down), as opposed to an error of the statement.
 * Such a client must be destroyed, never returned to the pool.
 */
function isConnectionError(err) {
  if (!err) return false;
  const code = typeof err.code === 'string' ? err.code : '';
  if (code.startsWith('08')) return true; // connection_exception class (PgBouncer uses 08P01)
  if ([PG.ADMIN_SHUTDOWN, PG.CRASH_SHUTDOWN, PG.CANNOT_CONNECT_NOW].includes(code)) return true;
  if (['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTCONN'].includes(code)) return true;
  return /Connection terminated|connection timeout|Client has encountered a connection error|Query read timeout|not queryable|server conn crashed|server closed the connection/i.test(
    err.message || '',
  );
}

function isAcquireTimeout(err) {
  return Boolean(err) && /timeout exceeded when trying to connect/i.test(err.message || '');
}

/** The HTTP answer for an error thrown by the database layer, or undefined. */
function databaseAnswer(err) {
  if (isAcquireTimeout(err)) {
    return new HttpError(503, 'database pool exhausted: no connection within the acquire timeout', {
      headers: { 'Retry-After': '1' },
    });
  }
  if (err && err.code === PG.QUERY_CANCELED) {
    return new HttpError(504, 'database statement timeout');
  }
  if (err && (err.code === PG.SERIALIZATION_FAILURE || err.code === PG.DEADLOCK_DETECTED)) {
    return new HttpError(503, 'transaction conflict, retry later', { headers: { 'Retry-After': '1' } });
  }
  if (isConnectionError(err) || (err && err.name === 'DatabaseUnavailableError')) {
    return new HttpError(503, 'database unavailable', { headers: { 'Retry-After': '1' } });
  }
  return undefined;
}

/** ioredis errors: connection closed, offline, command timeout. */
function redisAnswer(err) {
  if (!err) return undefined;
  const redisish =
    err.name === 'MaxRetriesPerRequestError' ||
    /Stream isn't writeable|Connection is closed|Command timed out|ECONNREFUSED|ECONNRESET|enableOfflineQueue/i.test(
      err.message || '',
    );
  return redisish ? new HttpError(503, 'cache unavailable', { headers: { 'Retry-After': '1' } }) : undefined;
}

module.exports = { HttpError, badRequest, PG, isConnectionError, isAcquireTimeout, databaseAnswer, redisAnswer };
