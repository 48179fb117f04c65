'use strict';

// The external HTTP dependency (DEPENDENCY_URL), called through the circuit
// breaker with bounded retries.
//
// One call is bounded by BREAKER_CALL_TIMEOUT_MS (connect, answer and body).
// A failure for the breaker: a network error, a timeout, a 5xx, an unreadable
// body. A 4xx means the dependency is up and refused our request: it does not
// count against the circuit and is not retried.

const { setTimeout: sleep } = require('node:timers/promises');
const { CircuitBreaker, CircuitOpenError, backoffDelay } = require('./breaker');

class DependencyError extends Error {
  constructor(message, { status, timeout = false, countsAsFailure = true, cause } = {}) {
    super(message, cause ? { cause } : undefined);
    this.name = 'DependencyError';
    this.status = status;
    this.timeout = timeout;
    this.countsAsFailure = countsAsFailure;
  }
}

function createDependencyClient({ config, log, requestId = () => undefined }) {
  const breaker = new CircuitBreaker({
    name: 'dependency',
    threshold: config.breaker.threshold,
    resetMs: config.breaker.resetMs,
    isFailure: (err) => !(err instanceof DependencyError) || err.countsAsFailure,
    onStateChange: (to, from) => log.warn({ breaker: 'dependency', from, to }, 'circuit breaker state changed'),
  });
  const url = `${config.dependencyUrl}/quote`;
  const timeoutMs = config.breaker.callTimeoutMs;

  async function callOnce() {
    const headers = { accept: 'application/json' };
    const id = requestId();
    if (id) headers['x-request-id'] = id;
    try {
      const response = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
      if (!response.ok) {
        await response.body?.cancel();
        throw new DependencyError(`dependency answered ${response.status}`, {
          status: response.status,
          countsAsFailure: response.status >= 500,
        });
      }
      return await response.json();
    } catch (err) {
      if (err instanceof DependencyError) throw err;
      if (err.name === 'TimeoutError' || err.name === 'AbortError') {
        throw new DependencyError(`no answer within ${timeoutMs} ms`, { timeout: true, cause: err });
      }
      if (err instanceof SyntaxError) throw new DependencyError('unreadable answer', { cause: err });
      throw new DependencyError(`unreachable: ${err.cause?.code ?? err.cause?.message ?? err.message}`, { cause: err });
    }
  }

  /**
   * Up to `retry.attempts` calls through the breaker, with backoff between them.
   * Resolves {quote, attempts} or rejects with CircuitOpenError (no call was
   * made) or the last DependencyError (calls reached the dependency and failed).
   */
  async function getQuote() {
    let lastError;
    let calls = 0;
    for (let attempt = 0; attempt < config.retry.attempts; attempt += 1) {
      if (attempt > 0) await sleep(backoffDelay(attempt - 1, config.retry));
      try {
        const quote = await breaker.call(callOnce);
        return { quote, attempts: attempt + 1 };
      } catch (err) {
        if (err instanceof CircuitOpenError) {
          if (calls === 0) throw err; // rejected without calling
          break; // our own failures opened it: report those
        }
        calls += 1;
        lastError = err;
        log.warn({ attempt: attempt + 1, err: err.message }, 'dependency call failed');
        if (err instanceof DependencyError && !err.countsAsFailure) break; // a 4xx: retrying will not help
      }
    }
    lastError.attempts = calls;
    throw lastError;
  }

  return { breaker, getQuote };
}

module.exports = { createDependencyClient, DependencyError, CircuitOpenError };
