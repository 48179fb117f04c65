'use strict';

// Health endpoints.
//
//   GET /health           the ready path of load balancers and the stack: cheap,
//                         no dependency calls; 503 while draining
//   GET /health/live      200 while the process runs, whatever its dependencies do
//   GET /health/ready     DB `SELECT 1` (through the pool) and Redis PING, each
//                         bounded by ~1 s; 503 naming the failing one (to
//                         internal callers); 503 while draining
//   GET /health/detailed  internal callers: uptime, memory, version, pool,
//                         breaker, dependencies; external callers: exactly
//                         {status, timestamp}
//
// External callers are limited to HEALTH_RATE_PER_MIN per client (429 with
// Retry-After); internal callers never are (see callers.js for the rule).

const express = require('express');
const { rateLimit, ipKeyGenerator } = require('express-rate-limit');

function healthRateLimiter({ perMinute, callers }) {
  if (!perMinute) return (req, res, next) => next(); // 0: no limit
  return rateLimit({
    windowMs: 60_000,
    limit: perMinute,
    standardHeaders: 'draft-7', // RateLimit-* headers, and Retry-After on 429
    legacyHeaders: false,
    skip: (req) => callers.isInternal(req),
    keyGenerator: (req) => ipKeyGenerator(callers.clientAddress(req)),
    handler: (req, res) => {
      res.status(429).json({ status: 'rate_limited', error: 'too many health requests', request_id: req.id });
    },
  });
}

/** Runs `check`, bounded by `timeoutMs`: {status: "ok"|"timeout"|"error", latency_ms, error?}. */
async function probe(check, timeoutMs) {
  const started = performance.now();
  let timer;
  const timeout = new Promise((resolve) => {
    timer = setTimeout(() => resolve({ status: 'timeout' }), timeoutMs);
  });
  const outcome = check().then(
    () => ({ status: 'ok' }),
    (err) => ({ status: 'error', error: err.code || err.message || 'error' }),
  );
  try {
    const result = await Promise.race([outcome, timeout]);
    return { ...result, latency_ms: Math.round(performance.now() - started) };
  } finally {
    clearTimeout(timer);
  }
}

function healthRouter({ config, lifecycle, callers, db, cache, breaker }) {
  const router = express.Router();
  const limit = healthRateLimiter({ perMinute: config.health.ratePerMin, callers });
  const timeoutMs = config.health.checkTimeoutMs;
  const now = () => new Date().toISOString();

  async function dependencies() {
    const [database, redis] = await Promise.all([
      probe(() => db.ping(timeoutMs), timeoutMs),
      probe(() => cache.ping(), timeoutMs),
    ]);
    return { db: database, redis };
  }

  router.get('/health', limit, (req, res) => {
    if (lifecycle.draining) return res.status(503).json({ status: 'draining', timestamp: now() });
    return res.json({ status: 'ok', timestamp: now() });
  });

  router.get('/health/live', limit, (req, res) => {
    res.json({ status: 'alive', timestamp: now() });
  });

  router.get('/health/ready', limit, async (req, res) => {
    if (lifecycle.draining) return res.status(503).json({ status: 'draining', timestamp: now() });
    const checks = await dependencies();
    const failing = Object.keys(checks).filter((name) => checks[name].status !== 'ok');
    const body = { status: failing.length ? 'not_ready' : 'ready', timestamp: now() };
    if (callers.isInternal(req)) Object.assign(body, { failing, dependencies: checks });
    return res.status(failing.length ? 503 : 200).json(body);
  });

  router.get('/health/detailed', limit, async (req, res) => {
    if (!callers.isInternal(req)) {
      // Nothing about versions, memory or dependencies for the outside world.
      return res.status(lifecycle.draining ? 503 : 200).json({
        status: lifecycle.draining ? 'draining' : 'ok',
        timestamp: now(),
      });
    }
    const checks = await dependencies();
    const healthy = Object.values(checks).every((check) => check.status === 'ok');
    const status = lifecycle.draining ? 'draining' : healthy ? 'ok' : 'degraded';
    return res.status(status === 'ok' ? 200 : 503).json({
      status,
      timestamp: now(),
      instance: config.instance,
      version: config.version,
      node: process.version,
      pid: process.pid,
      uptime: Math.round(process.uptime() * 1000) / 1000,
      memory: process.memoryUsage(),
      in_flight: lifecycle.inFlight,
      dependencies: checks,
      db_pool: db.stats(),
      circuit_breaker: { dependency: breaker.stateName },
    });
  });

  return router;
}

module.exports = { healthRouter };
