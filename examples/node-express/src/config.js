'use strict';

// Every setting comes from the environment, read once at start. A bad value
// stops the process (exit 2) with a message naming the variable.
//
// The numbers the team promises (docs/app-contract.md part 3, docs/claims.md)
// are the defaults; the infratests profile passes them through
// [app.promise_env] under the names in PROMISE_ENV below.

const os = require('node:os');
const { version } = require('../package.json');

/** promise key (infratests profile) -> the variable this app reads it from */
const PROMISE_ENV = Object.freeze({
  pool_max: 'POSTGRES_POOL_MAX',
  pool_min: 'POSTGRES_POOL_MIN',
  acquire_timeout_ms: 'POSTGRES_ACQUIRE_TIMEOUT_MS',
  pool_idle_timeout_ms: 'POSTGRES_IDLE_TIMEOUT_MS',
  pool_max_lifetime_s: 'POSTGRES_MAX_LIFETIME_S',
  statement_timeout_ms: 'POSTGRES_STATEMENT_TIMEOUT_MS',
  isolation: 'TRANSFER_ISOLATION',
  breaker_threshold: 'BREAKER_THRESHOLD',
  breaker_reset_ms: 'BREAKER_RESET_MS',
  breaker_call_timeout_ms: 'BREAKER_CALL_TIMEOUT_MS',
  retry_attempts: 'DEPENDENCY_RETRY_ATTEMPTS',
  drain_delay_ms: 'SHUTDOWN_DRAIN_MS',
  kill_timeout_ms: 'SHUTDOWN_TIMEOUT_MS',
  lock_ttl_ms: 'LOCK_TTL_MS',
  health_rate_per_min: 'HEALTH_RATE_PER_MIN',
  cache_ttl_s: 'CACHE_TTL_S',
});

const ISOLATIONS = ['read_committed', 'serializable'];
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

class ConfigError extends Error {
  constructor(variable, message) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
    this.variable = variable;
  }
}

function reader(env) {
  const raw = (name) => {
    const value = env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  };

  return {
    str(name, fallback) {
      return raw(name) ?? fallback;
    },
    required(name) {
      const value = raw(name);
      if (value === undefined) throw new ConfigError(name, 'is required');
      return value;
    },
    int(name, fallback, { min = 0, max = Number.MAX_SAFE_INTEGER } = {}) {
      const value = raw(name);
      if (value === undefined) return fallback;
      if (!/^-?\d+$/.test(value)) throw new ConfigError(name, `must be an integer, got ${JSON.stringify(value)}`);
      const n = Number(value);
      if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
      return n;
    },
    number(name, fallback, { min = 0, max = Number.MAX_VALUE } = {}) {
      const value = raw(name);
      if (value === undefined) return fallback;
      const n = Number(value);
      if (!Number.isFinite(n) || n < min || n > max) {
        throw new ConfigError(name, `must be a number between ${min} and ${max}, got ${JSON.stringify(value)}`);
      }
      return n;
    },
    oneOf(name, fallback, choices) {
      const value = (raw(name) ?? fallback).toLowerCase().replace(/[\s-]+/g, '_');
      if (!choices.includes(value)) throw new ConfigError(name, `must be one of ${choices.join(', ')}`);
      return value;
    },
    list(name, fallback) {
      const value = raw(name);
      if (value === undefined) return fallback;
      return value.split(',').map((item) => item.trim()).filter(Boolean);
    },
    url(name, fallback) {
      const value = raw(name) ?? fallback;
      if (value === undefined) throw new ConfigError(name, 'is required');
      try {
        new URL(value); // eslint-disable-line no-new
      } catch {
        throw new ConfigError(name, 'is not a valid URL');
      }
      return value;
    },
  };
}

function loadConfig(env = process.env) {
  const e = reader(env);
  const p = PROMISE_ENV;

  const lockUrls = e.list('REDIS_LOCK_URLS', undefined);
  const redisUrl = e.url('REDIS_URL', 'redis://127.0.0.1:6379/0');

  const config = {
    version: e.str('APP_VERSION', version),
    nodeEnv: e.str('NODE_ENV', 'production'),
    host: e.str('HOST', '127.0.0.1'),
    port: e.int('PORT', 3000, { min: 0, max: 65535 }),
    instance: e.str('INSTANCE', `${os.hostname()}-${process.pid}`),
    logLevel: e.oneOf('LOG_LEVEL', 'info', LOG_LEVELS),

    databaseUrl: e.url('DATABASE_URL'),
    redisUrl,
    redisLockUrls: lockUrls ?? [redisUrl],
    dependencyUrl: e.url('DEPENDENCY_URL', 'http://127.0.0.1:8081').replace(/\/+$/, ''),
    sentryDsn: e.str('SENTRY_DSN', ''),
    healthSecret: e.str('HEALTH_SECRET', ''),
    internalPeers: e.list('INTERNAL_PEERS', []),
    cachePrefix: env.CACHE_PREFIX ?? 'node-express:', // an explicitly empty prefix is allowed

    pool: {
      max: e.int(p.pool_max, 20, { min: 1, max: 10000 }),
      min: e.int(p.pool_min, 2, { min: 0, max: 10000 }),
      acquireTimeoutMs: e.int(p.acquire_timeout_ms, 5000, { min: 1 }),
      idleTimeoutMs: e.int(p.pool_idle_timeout_ms, 10000, { min: 0 }),
      maxLifetimeS: e.int(p.pool_max_lifetime_s, 3600, { min: 0 }),
      statementTimeoutMs: e.int(p.statement_timeout_ms, 30000, { min: 0 }),
      // How long start-up waits for the database before giving up (0: keep waiting).
      startupTimeoutMs: e.int('POSTGRES_STARTUP_TIMEOUT_MS', 0, { min: 0 }),
    },
    isolation: e.oneOf(p.isolation, 'read_committed', ISOLATIONS),
    transferRetries: e.int('TRANSFER_RETRIES', 10, { min: 0, max: 1000 }),

    breaker: {
      threshold: e.int(p.breaker_threshold, 3, { min: 1 }),
      resetMs: e.int(p.breaker_reset_ms, 30000, { min: 0 }),
      callTimeoutMs: e.int(p.breaker_call_timeout_ms, 1000, { min: 1 }),
    },
    retry: {
      attempts: e.int(p.retry_attempts, 2, { min: 1, max: 20 }),
      baseMs: e.int('DEPENDENCY_RETRY_BASE_MS', 50, { min: 0 }),
      maxMs: e.int('DEPENDENCY_RETRY_MAX_MS', 1000, { min: 0 }),
    },

    shutdown: {
      drainMs: e.int(p.drain_delay_ms, 5000, { min: 0 }),
      killTimeoutMs: e.int(p.kill_timeout_ms, 30000, { min: 1 }),
    },

    lock: {
      ttlMs: e.int(p.lock_ttl_ms, 10000, { min: 200 }),
      nodeTimeoutMs: e.int('LOCK_NODE_TIMEOUT_MS', 200, { min: 10 }),
      driftFactor: e.number('LOCK_DRIFT_FACTOR', 0.01, { min: 0, max: 0.5 }),
    },

    health: {
      ratePerMin: e.int(p.health_rate_per_min, 30, { min: 0 }), // 0: no limit
      checkTimeoutMs: e.int('HEALTH_CHECK_TIMEOUT_MS', 1000, { min: 1 }),
    },

    cache: {
      ttlS: e.int(p.cache_ttl_s, 300, { min: 1 }),
      timeoutMs: e.int('REDIS_COMMAND_TIMEOUT_MS', 1000, { min: 1 }),
    },
  };

  if (config.pool.min > config.pool.max) {
    throw new ConfigError(p.pool_min, `(${config.pool.min}) must not exceed ${p.pool_max} (${config.pool.max})`);
  }
  for (const url of config.redisLockUrls) {
    try {
      new URL(url); // eslint-disable-line no-new
    } catch {
      throw new ConfigError('REDIS_LOCK_URLS', `${JSON.stringify(url)} is not a valid URL`);
    }
  }
  return deepFreeze(config);
}

/** What the start-up log line may show: no secret, no credentials. */
function describe(config) {
  const hidePassword = (value) => {
    try {
      const url = new URL(value);
      if (url.password) url.password = '***';
      return url.toString();
    } catch {
      return '***';
    }
  };
  return {
    ...config,
    databaseUrl: hidePassword(config.databaseUrl),
    redisUrl: hidePassword(config.redisUrl),
    redisLockUrls: config.redisLockUrls.map(hidePassword),
    sentryDsn: config.sentryDsn ? 'set' : 'unset',
    healthSecret: config.healthSecret ? 'set' : 'unset',
  };
}

function deepFreeze(value) {
  for (const child of Object.values(value)) {
    if (child && typeof child === 'object') deepFreeze(child);
  }
  return Object.freeze(value);
}

module.exports = { loadConfig, describe, ConfigError, PROMISE_ENV };
