'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { loadConfig, describe, ConfigError, PROMISE_ENV } = require('../src/config');

const base = { DATABASE_URL: 'postgresql://app:pw@127.0.0.1:6432/app' };

test('defaults are the promised numbers', () => {
  const config = loadConfig(base);
  assert.equal(config.pool.max, 20);
  assert.equal(config.pool.min, 2);
  assert.equal(config.pool.acquireTimeoutMs, 5000);
  assert.equal(config.pool.statementTimeoutMs, 30000);
  assert.equal(config.isolation, 'read_committed');
  assert.equal(config.breaker.threshold, 3);
  assert.equal(config.shutdown.drainMs, 5000);
  assert.equal(config.shutdown.killTimeoutMs, 30000);
  assert.equal(config.lock.ttlMs, 10000);
  assert.equal(config.health.ratePerMin, 30);
  assert.equal(config.cache.ttlS, 300);
  assert.ok(Object.isFrozen(config.pool));
});

test('every promise variable is read', () => {
  const values = {
    pool_max: '7', pool_min: '1', acquire_timeout_ms: '111', pool_idle_timeout_ms: '222',
    pool_max_lifetime_s: '333', statement_timeout_ms: '444', isolation: 'serializable',
    breaker_threshold: '5', breaker_reset_ms: '555', breaker_call_timeout_ms: '66', retry_attempts: '4',
    drain_delay_ms: '777', kill_timeout_ms: '888', lock_ttl_ms: '999', health_rate_per_min: '12', cache_ttl_s: '13',
  };
  const env = { ...base };
  for (const [promise, value] of Object.entries(values)) env[PROMISE_ENV[promise]] = value;
  const c = loadConfig(env);
  assert.deepEqual(
    [c.pool.max, c.pool.min, c.pool.acquireTimeoutMs, c.pool.idleTimeoutMs, c.pool.maxLifetimeS, c.pool.statementTimeoutMs],
    [7, 1, 111, 222, 333, 444],
  );
  assert.equal(c.isolation, 'serializable');
  assert.deepEqual([c.breaker.threshold, c.breaker.resetMs, c.breaker.callTimeoutMs, c.retry.attempts], [5, 555, 66, 4]);
  assert.deepEqual([c.shutdown.drainMs, c.shutdown.killTimeoutMs, c.lock.ttlMs, c.health.ratePerMin, c.cache.ttlS], [777, 888, 999, 12, 13]);
});

test('a bad value names its variable', () => {
  assert.throws(() => loadConfig({ ...base, POSTGRES_POOL_MAX: 'twenty' }), (err) => err instanceof ConfigError && err.variable === 'POSTGRES_POOL_MAX');
  assert.throws(() => loadConfig({ ...base, TRANSFER_ISOLATION: 'chaos' }), /TRANSFER_ISOLATION/);
  assert.throws(() => loadConfig({}), /DATABASE_URL/);
  assert.throws(() => loadConfig({ ...base, POSTGRES_POOL_MIN: '30' }), /POSTGRES_POOL_MIN/);
});

test('the start-up summary hides secrets and passwords', () => {
  const summary = JSON.stringify(describe(loadConfig({ ...base, HEALTH_SECRET: 'top-secret', SENTRY_DSN: 'http://key@127.0.0.1:1/1' })));
  assert.ok(!summary.includes('top-secret'));
  assert.ok(!summary.includes(':pw@'));
  assert.ok(!summary.includes('key@'));
});
