'use strict';

// A small circuit breaker with "N consecutive failures" semantics, and a
// bounded, jittered exponential backoff for retries.
//
//   CLOSED    calls pass; `threshold` consecutive failures (errors and
//             timeouts) open the circuit; a success resets the count.
//   OPEN      calls are rejected at once, without calling, for `resetMs`.
//   HALF_OPEN after `resetMs` exactly one trial call passes (the others are
//             still rejected); its success closes the circuit, its failure
//             opens it again for another `resetMs`.
//
// (opossum counts a percentage of failures in a rolling window, which is a
// different promise from "opens after 3 consecutive failures".)

const STATE = Object.freeze({ CLOSED: 0, OPEN: 1, HALF_OPEN: 2 });
const STATE_NAME = Object.freeze(['closed', 'open', 'half_open']);

class CircuitOpenError extends Error {
  constructor(name, state) {
    super(`circuit ${name} is ${STATE_NAME[state]}`);
    this.name = 'CircuitOpenError';
    this.state = state;
  }
}

class CircuitBreaker {
  constructor({ name, threshold, resetMs, isFailure = () => true, onStateChange = () => {}, now = Date.now }) {
    this.name = name;
    this.threshold = threshold;
    this.resetMs = resetMs;
    this.isFailure = isFailure;
    this.onStateChange = onStateChange;
    this.now = now;
    this.current = STATE.CLOSED;
    this.failures = 0;
    this.openedAt = 0;
    this.trialRunning = false;
  }

  /** The state as callers see it: OPEN reads HALF_OPEN once the reset time is over. */
  get state() {
    if (this.current === STATE.OPEN && this.now() - this.openedAt >= this.resetMs) return STATE.HALF_OPEN;
    return this.current;
  }

  get stateName() {
    return STATE_NAME[this.state];
  }

  /** Run `fn` unless the circuit is open. Errors for which isFailure() is false do not count. */
  async call(fn) {
    const trial = this.#admit();
    let result;
    try {
      result = await fn();
    } catch (err) {
      if (this.isFailure(err)) this.#onFailure(trial);
      else this.#onSuccess(trial);
      throw err;
    }
    this.#onSuccess(trial);
    return result;
  }

  #admit() {
    const state = this.state;
    if (state === STATE.CLOSED) return false;
    if (state === STATE.HALF_OPEN && !this.trialRunning) {
      this.trialRunning = true;
      this.#set(STATE.HALF_OPEN);
      return true;
    }
    throw new CircuitOpenError(this.name, state);
  }

  #onFailure(trial) {
    if (trial) {
      this.trialRunning = false;
      this.#open();
      return;
    }
    if (this.current !== STATE.CLOSED) return; // a late answer of a call admitted before the circuit opened
    this.failures += 1;
    if (this.failures >= this.threshold) this.#open();
  }

  #onSuccess(trial) {
    if (trial) {
      this.trialRunning = false;
      this.#set(STATE.CLOSED);
    }
    if (this.current === STATE.CLOSED) this.failures = 0;
  }

  #open() {
    this.openedAt = this.now();
    this.#set(STATE.OPEN);
  }

  #set(state) {
    if (state === STATE.CLOSED) this.failures = 0;
    const previous = this.current;
    this.current = state;
    if (previous !== state) this.onStateChange(STATE_NAME[state], STATE_NAME[previous]);
  }
}

/**
 * Delay before retry number `retry` (0-based), "equal jitter": uniform in
 * [d/2, d] with d = min(maxMs, baseMs * 2^retry). The floor grows with each
 * retry; the random half keeps clients from retrying in lockstep.
 */
function backoffDelay(retry, { baseMs, maxMs }, random = Math.random) {
  const ceiling = Math.min(maxMs, baseMs * 2 ** retry);
  return ceiling / 2 + random() * (ceiling / 2);
}

module.exports = { CircuitBreaker, CircuitOpenError, backoffDelay, STATE };
