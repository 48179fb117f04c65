'use strict';

// The last two middlewares: 404 for unknown paths, and the error handler that
// turns every error into a JSON answer. Infrastructure errors map to 503/504
// (database, cache); anything else is a bug: 500, an error log line with the
// stack, and an error-tracker event tagged with the request id.

const { HttpError, databaseAnswer, redisAnswer } = require('../errors');
const { routeLabel } = require('./requestContext');

function notFound(req, res) {
  res.status(404).json({ error: 'not found', request_id: req.id });
}

function toAnswer(err) {
  if (err instanceof HttpError) return err;
  const mapped = databaseAnswer(err) || redisAnswer(err);
  if (mapped) return mapped;
  // body-parser (bad JSON, body too large) and other http-errors style errors
  const status = err.status || err.statusCode;
  if (Number.isInteger(status) && status >= 400 && status < 500) {
    return new HttpError(status, err.expose ? err.message : 'bad request');
  }
  return undefined;
}

function errorHandler({ log, tracker }) {
  // eslint-disable-next-line no-unused-vars -- Express recognises error handlers by their 4 parameters
  return function handleError(err, req, res, next) {
    const answer = toAnswer(err);
    if (answer) {
      const level = answer.status >= 500 ? 'warn' : 'info';
      log[level]({ err: err.message, code: err.code, status: answer.status }, 'request failed');
    } else {
      log.error({ err }, 'unhandled error');
      tracker.capture(err, { requestId: req.id, method: req.method, route: routeLabel(req, res), path: req.path });
    }
    if (res.headersSent) {
      // Too late for a status: cut the connection so the client sees a failure.
      req.socket.destroy();
      return;
    }
    const status = answer ? answer.status : 500;
    if (answer && answer.headers) res.set(answer.headers);
    res.status(status).json({
      error: answer && answer.expose ? answer.message : 'internal server error',
      ...(answer && answer.details),
      request_id: req.id,
    });
  };
}

module.exports = { notFound, errorHandler };
