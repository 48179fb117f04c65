'use strict';

// GET /quote: the dependency's quote through the circuit breaker.
//   200 {quote, attempts, breaker}
//   502 the calls reached the dependency and it failed (504: it timed out)
//   503 at once, without calling, while the circuit is open

const express = require('express');
const { CircuitOpenError } = require('../dependency');

function quoteRouter({ dependency, config }) {
  const router = express.Router();
  const { breaker } = dependency;

  router.get('/quote', async (req, res) => {
    try {
      const { quote, attempts } = await dependency.getQuote();
      res.json({ quote, attempts, breaker: breaker.stateName });
    } catch (err) {
      if (err instanceof CircuitOpenError) {
        const retryAfter = Math.max(1, Math.ceil(config.breaker.resetMs / 1000));
        return res
          .status(503)
          .set('Retry-After', String(retryAfter))
          .json({ error: 'dependency circuit open; not called', breaker: breaker.stateName, request_id: req.id });
      }
      if (err.name !== 'DependencyError') throw err;
      return res.status(err.timeout ? 504 : 502).json({
        error: `dependency failed: ${err.message}`,
        attempts: err.attempts,
        breaker: breaker.stateName,
        request_id: req.id,
      });
    }
  });

  return router;
}

module.exports = { quoteRouter };
