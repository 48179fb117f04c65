'use strict';

// Error tracking with the Sentry SDK, when SENTRY_DSN is set. Loaded by
// server.js before Express (the SDK's instrumentation wants to come first).
// Tracing stays off: this is for errors. Each event carries the request id
// as the tag `request_id` (and the instance, route and path).
//
// The SDK gives every incoming request its own isolation scope and, with
// Express instrumented, reports errors thrown by handlers by itself; the
// request middleware puts the request id on that scope (tagRequest), so those
// events carry it too. Our error handler also captures explicitly (for when
// the instrumentation is not active); the SDK drops the duplicate.

// Request headers travel with each event: never the health secret or credentials.
const SECRET_HEADERS = new Set(['x-health-secret', 'authorization', 'cookie', 'proxy-authorization']);

function scrubSecrets(event) {
  const headers = event.request && event.request.headers;
  if (headers) {
    for (const name of Object.keys(headers)) {
      if (SECRET_HEADERS.has(name.toLowerCase())) headers[name] = '[redacted]';
    }
  }
  return event;
}

function initErrorTracking(config) {
  if (!config.sentryDsn) {
    return { enabled: false, tagRequest() {}, capture() {}, flush: async () => true, close: async () => true };
  }
  const Sentry = require('@sentry/node'); // eslint-disable-line global-require -- only when configured
  Sentry.init({
    dsn: config.sentryDsn,
    release: `infratests-node-express@${config.version}`,
    environment: config.nodeEnv,
    serverName: config.instance,
    sendDefaultPii: false,
    beforeSend: scrubSecrets,
  });
  return {
    enabled: true,
    tagRequest(requestId) {
      Sentry.getIsolationScope().setTag('request_id', requestId);
    },
    capture(err, { requestId, method, route, path } = {}) {
      Sentry.captureException(err, {
        tags: { request_id: requestId, instance: config.instance, route },
        contexts: { http_request: { method, path, request_id: requestId } },
      });
    },
    flush: (timeoutMs = 2000) => Sentry.flush(timeoutMs),
    close: (timeoutMs = 2000) => Sentry.close(timeoutMs),
  };
}

module.exports = { initErrorTracking, scrubSecrets };
