'use strict';

// ioredis clients: the cache node (REDIS_URL) and the independent lock nodes
// (REDIS_LOCK_URLS).
//
// Both fail fast instead of queueing: with ioredis' defaults a command sent
// while a node is down waits in the offline queue through up to 20 reconnect
// attempts, which turns "Redis is down" into requests that hang for seconds.
// Here a command on a disconnected client is rejected at once, a command on a
// frozen node is rejected after `commandTimeout`, and reconnects are attempted
// quickly and forever, so the client is back as soon as the node is.

const Redis = require('ioredis');
const { requestContext } = require('./logger');

function createRedisClient(url, { name, log, commandTimeoutMs, connectTimeoutMs }) {
  const client = new Redis(url, {
    connectionName: name,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: commandTimeoutMs,
    connectTimeout: connectTimeoutMs,
    retryStrategy: (times) => Math.min(50 * times, 500),
    enableReadyCheck: true,
  });

  // ioredis emits 'error' for every failed (re)connect; without a listener it
  // prints "Unhandled error event". Log state changes, not every attempt.
  let healthy = false;
  let lastErrorLog = 0;
  // Connection events belong to no request (whichever request's command noticed first).
  client.on('ready', () => {
    if (!healthy) requestContext.exit(() => log.info({ redis: name }, 'redis connection ready'));
    healthy = true;
  });
  client.on('error', (err) => {
    const now = Date.now();
    if (healthy || now - lastErrorLog > 10_000) {
      lastErrorLog = now;
      requestContext.exit(() => log.warn({ redis: name, err: err.message }, 'redis connection error'));
    }
    healthy = false;
  });
  return client;
}

function createCacheClient(config, log) {
  return createRedisClient(config.redisUrl, {
    name: `${config.instance}-cache`,
    log,
    commandTimeoutMs: config.cache.timeoutMs,
    connectTimeoutMs: config.cache.timeoutMs,
  });
}

function createLockClients(config, log) {
  return config.redisLockUrls.map((url, index) =>
    createRedisClient(url, {
      name: `${config.instance}-lock-${index + 1}`,
      log,
      commandTimeoutMs: config.lock.nodeTimeoutMs,
      connectTimeoutMs: Math.max(config.lock.nodeTimeoutMs, 500),
    }),
  );
}

/** QUIT politely, but never wait on a node that does not answer. */
async function closeRedis(client, timeoutMs = 1000) {
  if (client.status === 'end') return;
  const timer = new Promise((resolve) => setTimeout(resolve, timeoutMs).unref());
  try {
    await Promise.race([client.quit().catch(() => {}), timer]);
  } finally {
    client.disconnect();
  }
}

module.exports = { createCacheClient, createLockClients, closeRedis };
