#!/usr/bin/env node
'use strict';

// Entry point: `node server.js` (or under PM2: bin/pm2-run).
// Exit codes: 0 drained cleanly; 1 start-up failed or forced exit after
// SHUTDOWN_TIMEOUT_MS; 2 invalid configuration (the message names the variable).

const { loadConfig, ConfigError } = require('./src/config');
const { createLogger } = require('./src/logger');

let config;
try {
  config = loadConfig(process.env);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  createLogger().fatal({ variable: err.variable }, `invalid configuration: ${err.message}`);
  process.exit(2);
}

const log = createLogger({ level: config.logLevel, instance: config.instance });
// The error tracker comes before Express and the HTTP stack are loaded.
const tracker = require('./src/sentry').initErrorTracking(config);
const { start } = require('./src/main');

process.on('unhandledRejection', (reason) => {
  log.error({ err: reason }, 'unhandled promise rejection');
  tracker.capture(reason instanceof Error ? reason : new Error(String(reason)));
});
process.on('uncaughtException', (err) => {
  log.fatal({ err }, 'uncaught exception; exiting');
  tracker.capture(err);
  tracker.flush(2000).finally(() => process.exit(1));
});

start(config, { log, tracker }).catch((err) => {
  log.fatal({ err }, 'start-up failed');
  tracker.flush(2000).finally(() => process.exit(1));
});
