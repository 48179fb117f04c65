'use strict';

// Small endpoints the test suite uses as hooks:
//   GET /slow?ms=N            answers after N ms (in-flight work during a drain)
//   GET /json?bytes=N         a JSON body of about N bytes (gzip threshold)
//   GET /boom                 an unhandled error: 500 and an error-tracker event
//   GET /db/sleep?s=N         select pg_sleep(N) in a transaction
//   GET /metrics              Prometheus text format
//   GET|POST /api/*, /auth/*, /webhooks/*
//                             a cheap answer naming the replica and the TCP
//                             peer (host:port) of the connection it came on

const express = require('express');
const { setTimeout: sleep } = require('node:timers/promises');
const { badRequest } = require('../errors');

function numberParam(req, name, { fallback, min = 0, max }) {
  const raw = req.query[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(value) || value < min || value > max) {
    throw badRequest(`${name} must be a number between ${min} and ${max}`);
  }
  return value;
}

function miscRouter({ config, db, metrics }) {
  const router = express.Router();

  router.get('/', (req, res) => {
    res.type('text/plain').send(`infratests-node-express ${config.version} ${config.instance}\n`);
  });

  router.get('/slow', async (req, res) => {
    const ms = Math.round(numberParam(req, 'ms', { fallback: 1000, max: 600_000 }));
    await sleep(ms);
    res.json({ slept_ms: ms, instance: config.instance });
  });

  router.get('/json', (req, res) => {
    const bytes = Math.round(numberParam(req, 'bytes', { fallback: 2048, max: 10_000_000 }));
    const envelope = '{"data":""}';
    res.type('application/json').send(`{"data":"${'x'.repeat(Math.max(0, bytes - envelope.length))}"}`);
  });

  router.get('/boom', () => {
    throw new Error('boom: deliberate unhandled error');
  });

  router.get('/db/sleep', async (req, res) => {
    const seconds = numberParam(req, 's', { fallback: 1, max: 3600 });
    await db.query('SELECT pg_sleep($1)', [seconds]);
    res.json({ slept_s: seconds, instance: config.instance });
  });

  router.get('/metrics', async (req, res) => {
    res.type(metrics.contentType).send(await metrics.registry.metrics());
  });

  const raw = express.raw({ type: () => true, limit: '1mb' });
  for (const zone of ['api', 'auth', 'webhooks']) {
    router.all(`/${zone}{/*rest}`, raw, (req, res) => {
      res.json({
        path: req.path,
        method: req.method,
        bytes: Buffer.isBuffer(req.body) ? req.body.length : 0,
        instance: config.instance,
        peer: `${req.socket.remoteAddress}:${req.socket.remotePort}`,
      });
    });
  }

  return router;
}

module.exports = { miscRouter };
