'use strict';

// Wiring and start-up: build the clients, wait for the database, listen, and
// only then say ready (the HTTP listener, and process.send('ready') for PM2's
// wait_ready). Nothing listens while the database cannot serve.

const http = require('node:http');
const { describe } = require('./config');
const { requestContext } = require('./logger');
const { Database } = require('./db');
const { createCacheClient, createLockClients, closeRedis } = require('./redis');
const { JobLocks } = require('./locks');
const { createDependencyClient } = require('./dependency');
const { createMetrics } = require('./metrics');
const { createCallerRules } = require('./callers');
const { createApp } = require('./app');
const { attachWebSocketEcho } = require('./websocket');
const { createLifecycle, installShutdown } = require('./shutdown');

function listen(server, port, host) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host }, () => {
      server.off('error', reject);
      resolve(server.address());
    });
  });
}

async function start(config, { log, tracker }) {
  log.info({ config: describe(config) }, 'starting');
  const lifecycle = createLifecycle();
  const metrics = createMetrics();

  const db = new Database({
    url: config.databaseUrl,
    applicationName: config.instance,
    pool: config.pool,
    log,
    name: 'db',
  });
  const cache = createCacheClient(config, log);
  const lockClients = createLockClients(config, log);
  const locks = new JobLocks({
    clients: lockClients,
    ttlMs: config.lock.ttlMs,
    driftFactor: config.lock.driftFactor,
    keyPrefix: `${config.cachePrefix}lock:`,
    log,
  });
  const dependency = createDependencyClient({ config, log, requestId: () => requestContext.getStore()?.requestId });
  metrics.watchPool(db);
  metrics.watchBreaker('dependency', dependency.breaker);

  const app = createApp({
    config,
    log,
    tracker,
    metrics,
    lifecycle,
    db,
    cache,
    locks,
    dependency,
    breaker: dependency.breaker,
    callers: createCallerRules(config),
  });
  const server = http.createServer(app);
  // Longer than nginx's upstream keepalive_timeout (60 s): the proxy closes
  // idle connections first, so it never sends a request into a closing socket.
  server.keepAliveTimeout = 75_000;
  server.headersTimeout = 76_000;
  const websockets = attachWebSocketEcho(server, { log, lifecycle });

  async function closeResources() {
    const steps = [
      ['db pool', () => db.close()],
      ['redis cache', () => closeRedis(cache)],
      ...lockClients.map((client, i) => [`redis lock node ${i + 1}`, () => closeRedis(client)]),
      ['error tracker', () => tracker.close(2000)],
    ];
    await Promise.all(
      steps.map(([name, close]) =>
        Promise.resolve()
          .then(close)
          .catch((err) => log.warn({ err: err.message, resource: name }, 'close failed')),
      ),
    );
  }

  const startupAbort = new AbortController();
  installShutdown({ config, log, lifecycle, metrics, server, websockets, startupAbort, closeResources });

  try {
    await db.waitUntilReady({ timeoutMs: config.pool.startupTimeoutMs, signal: startupAbort.signal });
    await db.fillToMin();
  } catch (err) {
    if (startupAbort.signal.aborted) return; // a signal stopped the start-up; shutdown exits
    throw err;
  }
  if (startupAbort.signal.aborted) return;
  db.keepMinOpen();

  const address = await listen(server, config.port, config.host);
  lifecycle.state = 'ready';
  log.info({ host: address.address, port: address.port, uptime_ms: Math.round(process.uptime() * 1000) }, 'listening');
  if (typeof process.send === 'function') process.send('ready'); // PM2 wait_ready
}

module.exports = { start };
