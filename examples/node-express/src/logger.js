'use strict';

// JSON logs on stdout (pino), one object per line. Every line written while a
// request is handled carries its request id: the request middleware runs the
// request inside an AsyncLocalStorage context and pino's mixin reads it, so
// modules simply use the one logger and never pass ids around.

const { AsyncLocalStorage } = require('node:async_hooks');
const pino = require('pino');

const requestContext = new AsyncLocalStorage();

function createLogger({ level = 'info', instance } = {}) {
  return pino(
    {
      level,
      base: { pid: process.pid, instance },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      mixin() {
        const context = requestContext.getStore();
        return context ? { request_id: context.requestId } : {};
      },
      // Belt and braces: nothing here logs headers, but if someone ever does,
      // the shared health secret must not reach the log.
      redact: {
        paths: ['headers["x-health-secret"]', 'req.headers["x-health-secret"]', 'healthSecret', '*.healthSecret'],
        censor: '[redacted]',
      },
    },
    // Synchronous writes: the last lines before an exit (a start-up failure,
    // the forced exit of the shutdown watchdog) must not be lost.
    pino.destination({ dest: 1, sync: true }),
  );
}

module.exports = { createLogger, requestContext };
