'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { CircuitBreaker, CircuitOpenError, backoffDelay, STATE } = require('../src/breaker');

function breakerWithClock(options = {}) {
  let now = 0;
  const breaker = new CircuitBreaker({ name: 'dep', threshold: 3, resetMs: 1000, now: () => now, ...options });
  return { breaker, advance: (ms) => (now += ms) };
}
const fail = () => Promise.reject(new Error('down'));
const ok = () => Promise.resolve('ok');

test('opens after threshold consecutive failures, not before', async () => {
  const { breaker } = breakerWithClock();
  for (let i = 0; i < 2; i += 1) await assert.rejects(breaker.call(fail), /down/);
  assert.equal(breaker.state, STATE.CLOSED);
  await assert.rejects(breaker.call(fail), /down/);
  assert.equal(breaker.state, STATE.OPEN);
});

test('a success resets the consecutive count', async () => {
  const { breaker } = breakerWithClock();
  await assert.rejects(breaker.call(fail));
  await assert.rejects(breaker.call(fail));
  await breaker.call(ok);
  await assert.rejects(breaker.call(fail));
  await assert.rejects(breaker.call(fail));
  assert.equal(breaker.state, STATE.CLOSED);
});

test('open rejects without calling; one trial after the reset time', async () => {
  const { breaker, advance } = breakerWithClock();
  for (let i = 0; i < 3; i += 1) await assert.rejects(breaker.call(fail));
  let calls = 0;
  const counted = () => {
    calls += 1;
    return ok();
  };
  await assert.rejects(breaker.call(counted), CircuitOpenError);
  assert.equal(calls, 0);

  advance(1000);
  assert.equal(breaker.state, STATE.HALF_OPEN);
  let release;
  const slowTrial = breaker.call(() => new Promise((resolve) => (release = resolve)));
  await assert.rejects(breaker.call(counted), CircuitOpenError); // only one trial at a time
  release('ok');
  await slowTrial;
  assert.equal(breaker.state, STATE.CLOSED);
});

test('a failed trial opens the circuit again for a full reset time', async () => {
  const { breaker, advance } = breakerWithClock();
  for (let i = 0; i < 3; i += 1) await assert.rejects(breaker.call(fail));
  advance(1000);
  await assert.rejects(breaker.call(fail), /down/);
  assert.equal(breaker.state, STATE.OPEN);
  advance(999);
  await assert.rejects(breaker.call(ok), CircuitOpenError);
  advance(1);
  assert.equal(await breaker.call(ok), 'ok');
});

test('errors that are not failures do not count', async () => {
  const { breaker } = breakerWithClock({ isFailure: (err) => err.message !== 'client error' });
  for (let i = 0; i < 5; i += 1) await assert.rejects(breaker.call(() => Promise.reject(new Error('client error'))));
  assert.equal(breaker.state, STATE.CLOSED);
});

test('backoff grows, is capped and jittered within [d/2, d]', () => {
  const retry = { baseMs: 50, maxMs: 1000 };
  assert.equal(backoffDelay(0, retry, () => 0), 25);
  assert.equal(backoffDelay(0, retry, () => 1), 50);
  assert.equal(backoffDelay(2, retry, () => 1), 200);
  assert.equal(backoffDelay(10, retry, () => 1), 1000);
});
