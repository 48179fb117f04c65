'use strict';

// PUT /cache/:key  stores the request body at CACHE_PREFIX + key with the
//                  promised TTL (CACHE_TTL_S): no cache key lives forever
// GET /cache/:key  {"key", "value"} or 404

const express = require('express');
const { badRequest } = require('../errors');

const MAX_KEY_LENGTH = 512;

function cacheRouter({ cache, config }) {
  const router = express.Router();
  const text = express.text({ type: () => true, limit: '1mb' });

  const keyOf = (req) => {
    const { key } = req.params;
    if (!key || key.length > MAX_KEY_LENGTH) throw badRequest(`key must be 1-${MAX_KEY_LENGTH} characters`);
    return key;
  };

  router.put('/cache/:key', text, async (req, res) => {
    const key = keyOf(req);
    const value = typeof req.body === 'string' ? req.body : '';
    await cache.set(config.cachePrefix + key, value, 'EX', config.cache.ttlS);
    res.json({ key, stored_as: config.cachePrefix + key, ttl: config.cache.ttlS });
  });

  router.get('/cache/:key', async (req, res) => {
    const key = keyOf(req);
    const value = await cache.get(config.cachePrefix + key);
    if (value === null) return res.status(404).json({ key, error: 'not found', request_id: req.id });
    return res.json({ key, value });
  });

  return router;
}

module.exports = { cacheRouter };
