'use strict';

// The Express application: middleware and routes, nothing that opens
// connections (main.js builds the dependencies and passes them in).
//
// No security headers here on purpose: nginx sets HSTS, X-Frame-Options,
// nosniff, CSP and Referrer-Policy for every answer; setting them twice
// (helmet's defaults) produces duplicate or conflicting headers.

const path = require('node:path');
const express = require('express');
const { requestContextMiddleware } = require('./middleware/requestContext');
const { notFound, errorHandler } = require('./middleware/errors');
const { healthRouter } = require('./routes/health');
const { bankRouter } = require('./routes/bank');
const { jobsRouter } = require('./routes/jobs');
const { cacheRouter } = require('./routes/cache');
const { quoteRouter } = require('./routes/quote');
const { miscRouter } = require('./routes/misc');

const STATIC_DIR = path.join(__dirname, '..', 'public');

function createApp(deps) {
  const { log, metrics, lifecycle, tracker } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false); // API answers change every time; static files keep their own ETags

  app.use(requestContextMiddleware({ log, metrics, lifecycle, tracker }));

  app.use(healthRouter(deps));
  app.use(bankRouter(deps));
  app.use(jobsRouter(deps));
  app.use(cacheRouter(deps));
  app.use(quoteRouter(deps));
  app.use(miscRouter(deps));

  // Cached for a year as immutable: a file that changes must get a new name
  // (in a real build, a content hash in the file name).
  app.use(
    '/static',
    (req, res, next) => {
      res.locals.route = '/static';
      next();
    },
    express.static(STATIC_DIR, { maxAge: '365d', immutable: true, index: false, redirect: false }),
  );

  app.use(notFound);
  app.use(errorHandler({ log, tracker }));
  return app;
}

module.exports = { createApp };
