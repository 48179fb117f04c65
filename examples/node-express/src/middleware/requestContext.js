'use strict';

// First middleware of every request:
//   * the request id: the caller's X-Request-ID when it is sane (printable
//     ASCII, at most 200 characters), else a new UUID; echoed on the response;
//   * an AsyncLocalStorage context, so every log line of the request carries it
//     (and the error tracker's request scope, so every event does);
//   * one JSON access-log line and the HTTP metrics when the response is done;
//   * while the process drains, `Connection: close`, so keep-alive connections
//     (nginx's upstream pool) go away one by one with a complete answer.

const { randomUUID } = require('node:crypto');
const { AsyncResource } = require('node:async_hooks');
const { requestContext } = require('../logger');
const { peerAddress } = require('../callers');

const SANE_REQUEST_ID = /^[\x20-\x7e]{1,200}$/;

function acceptRequestId(value) {
  const trimmed = typeof value === 'string' ? value.trim() : '';
  return SANE_REQUEST_ID.test(trimmed) ? trimmed : undefined;
}

/** The route template for metrics and logs: bounded, never the raw path. */
function routeLabel(req, res) {
  if (req.route && typeof req.route.path === 'string') return req.baseUrl + req.route.path;
  return res.locals.route || 'unmatched';
}

function requestContextMiddleware({ log, metrics, lifecycle, tracker }) {
  return function requestContextHandler(req, res, next) {
    const requestId = acceptRequestId(req.get('x-request-id')) ?? randomUUID();
    req.id = requestId;
    res.setHeader('X-Request-ID', requestId);
    tracker.tagRequest(requestId);
    if (lifecycle.draining) res.setHeader('Connection', 'close');

    const started = process.hrtime.bigint();
    lifecycle.track(res);
    requestContext.run({ requestId }, () => {
      // Bound to this context, so the access line carries the request id too.
      const done = AsyncResource.bind(() => {
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        const route = routeLabel(req, res);
        const aborted = !res.writableFinished;
        const status = aborted && !res.headersSent ? 499 : res.statusCode;
        metrics.observeRequest({ method: req.method, route, status, seconds });
        log[status >= 500 ? 'warn' : 'info'](
          {
            method: req.method,
            path: req.path,
            route,
            status,
            duration_ms: Math.round(seconds * 1e5) / 100,
            peer: peerAddress(req),
            ...(aborted ? { aborted: true } : {}),
          },
          'request',
        );
      });
      res.once('close', done);
      next();
    });
  };
}

module.exports = { requestContextMiddleware, acceptRequestId, routeLabel };
