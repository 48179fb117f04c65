'use strict';

// Graceful shutdown on the first SIGTERM or SIGINT:
//   1. readiness (/health, /health/ready) answers 503 at once; every answer
//      from now on carries `Connection: close`, so keep-alive connections
//      (nginx's upstream pool) are closed after a complete answer;
//   2. for SHUTDOWN_DRAIN_MS the listener stays open and requests are served
//      as usual: a proxy that has not noticed yet gets answers, never a
//      refused or reset connection;
//   3. then the listener closes, idle keep-alive connections are closed,
//      WebSockets get "going away", in-flight requests finish;
//   4. the database pools and Redis clients close, error events are flushed,
//      and the process exits 0.
// A watchdog exits with FORCED_EXIT_CODE when all this takes longer than
// SHUTDOWN_TIMEOUT_MS (an in-flight request longer than that). A second
// signal during the drain is ignored. A signal during start-up (before the
// app ever listened) closes what was opened and exits 0.

const { setTimeout: sleep } = require('node:timers/promises');

const FORCED_EXIT_CODE = 1;

function createLifecycle() {
  const open = new Set();
  return {
    state: 'starting', // starting -> ready -> draining
    get draining() {
      return this.state === 'draining';
    },
    get inFlight() {
      return open.size;
    },
    /** Called for every response: tracked until it is done. */
    track(res) {
      open.add(res);
      res.once('close', () => open.delete(res));
    },
    /** Answers still being worked on: they close their connection when done. */
    closeAfterResponse() {
      for (const res of open) {
        if (!res.headersSent) res.setHeader('Connection', 'close');
      }
    },
  };
}

function installShutdown({ config, log, lifecycle, metrics, server, websockets, startupAbort, closeResources }) {
  const { drainMs, killTimeoutMs } = config.shutdown;

  async function shutdown(signal) {
    if (lifecycle.draining) {
      log.info({ signal }, 'shutdown: signal ignored, already draining');
      return;
    }
    const wasListening = lifecycle.state === 'ready';
    lifecycle.state = 'draining';
    metrics.draining.set(1);

    const watchdog = setTimeout(() => {
      log.error({ kill_timeout_ms: killTimeoutMs, in_flight: lifecycle.inFlight }, 'shutdown: kill timeout exceeded, forcing exit');
      process.exit(FORCED_EXIT_CODE);
    }, killTimeoutMs);
    watchdog.unref();

    if (!wasListening) {
      log.info({ signal }, 'shutdown during start-up (never listened)');
      startupAbort.abort();
      await closeResources();
      process.exit(0);
    }

    log.info({ signal, drain_ms: drainMs, kill_timeout_ms: killTimeoutMs, in_flight: lifecycle.inFlight }, 'shutdown: readiness 503, draining');
    lifecycle.closeAfterResponse();
    await sleep(drainMs);

    log.info({ in_flight: lifecycle.inFlight }, 'shutdown: drain delay over, closing the listener');
    lifecycle.closeAfterResponse();
    const closed = new Promise((resolve) => {
      server.close(resolve);
    });
    server.closeIdleConnections();
    websockets.close();
    await closed;

    log.info('shutdown: requests finished, closing connections');
    await closeResources();
    log.info('shutdown complete');
    process.exit(0);
  }

  for (const signal of ['SIGTERM', 'SIGINT']) {
    process.on(signal, () => {
      shutdown(signal).catch((err) => {
        log.error({ err }, 'shutdown failed');
        process.exit(FORCED_EXIT_CODE);
      });
    });
  }
}

module.exports = { createLifecycle, installShutdown, FORCED_EXIT_CODE };
