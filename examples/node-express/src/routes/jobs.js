'use strict';

// Lock-guarded jobs with fencing tokens.
//
//   POST /jobs/:name/run?work_ms=N
//     takes the job's Redlock lock, draws a fencing token, records the section
//     in Postgres, works N ms (extending the lock), records the end, releases.
//     200 {job, token, instance, start, end, completed: true, accepted: true}
//     409 the lock is held by someone else
//     503 fewer than a majority of lock nodes answered
//     409 {completed: false} the lock was lost during the job (it stopped
//         early), or the storage rejected our token (a later holder began)
//   GET /jobs/:name/sections  every run that began, times from the DB clock
//
// The fencing token is nextval() of a Postgres sequence, so the storage that
// checks the tokens is the one that issues them: strictly increasing, no
// Redis bookkeeping. Both writes take the job's fence row lock:
//   begin: registers the token, rejected when a higher one is registered;
//   end:   stamps end_ts and sets accepted only if no higher token was
//          registered meanwhile.
// So accepted sections of one job never overlap, whatever the locks did.

const express = require('express');
const { setTimeout: sleep } = require('node:timers/promises');
const { badRequest } = require('../errors');
const { LockHeldError, LockUnavailableError } = require('../locks');

const JOB_NAME = /^[\w.:-]{1,128}$/;
const MAX_WORK_MS = 600_000;

const BEGIN_SECTION = `
  WITH fence AS (
    INSERT INTO job_fences AS f (job, token) VALUES ($1, $2)
    ON CONFLICT (job) DO UPDATE SET token = EXCLUDED.token WHERE f.token < EXCLUDED.token
    RETURNING token
  )
  INSERT INTO job_sections (job, token, instance, start_ts)
  SELECT $1, fence.token, $3, clock_timestamp() FROM fence
  RETURNING id, extract(epoch FROM start_ts)::float8 AS start`;

const END_SECTION = `
  WITH fence AS (SELECT token FROM job_fences WHERE job = $1 FOR UPDATE)
  UPDATE job_sections AS s
     SET end_ts = clock_timestamp(), accepted = true, completed = $3
    FROM fence
   WHERE s.id = $2 AND s.token = fence.token
  RETURNING extract(epoch FROM s.start_ts)::float8 AS start, extract(epoch FROM s.end_ts)::float8 AS "end"`;

const LIST_SECTIONS = `
  SELECT token, instance,
         extract(epoch FROM start_ts)::float8 AS start,
         extract(epoch FROM end_ts)::float8 AS "end",
         accepted, completed
    FROM job_sections WHERE job = $1 ORDER BY id`;

function jobName(req) {
  const { name } = req.params;
  if (!JOB_NAME.test(name)) throw badRequest('job name: 1-128 characters of [A-Za-z0-9_.:-]');
  return name;
}

function workMs(req) {
  const raw = req.query.work_ms;
  if (raw === undefined) return 100;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > MAX_WORK_MS) {
    throw badRequest(`work_ms must be an integer between 0 and ${MAX_WORK_MS}`);
  }
  return value;
}

function jobsRouter({ db, locks, config, metrics, log }) {
  const router = express.Router();
  const instance = config.instance;

  /** The critical section; `signal` aborts when the lock is lost. */
  async function runSection(job, ms, signal) {
    const {
      rows: [{ token }],
    } = await db.query("SELECT nextval('job_fencing_tokens') AS token");
    const begun = await db.query(BEGIN_SECTION, [job, token, instance]);
    if (begun.rowCount === 0) {
      return { token, start: null, end: null, accepted: false, completed: false, reason: 'stale fencing token' };
    }
    const { id, start } = begun.rows[0];

    let ranToEnd = true;
    try {
      await sleep(ms, undefined, { signal }); // the job's work
    } catch (err) {
      if (!signal.aborted) throw err;
      ranToEnd = false; // the lock is gone: stop now
    }

    const ended = await db.query(END_SECTION, [job, id, ranToEnd]);
    const accepted = ended.rowCount === 1;
    const result = {
      token,
      start: accepted ? ended.rows[0].start : start,
      end: accepted ? ended.rows[0].end : null,
      accepted,
      completed: ranToEnd && accepted,
    };
    if (signal.aborted) result.reason = signal.reason?.message ?? 'lock lost';
    else if (!accepted) result.reason = 'stale fencing token: a later holder registered a higher token';
    return result;
  }

  router.post('/jobs/:name/run', async (req, res) => {
    const job = jobName(req);
    const ms = workMs(req);
    let result;
    try {
      result = await locks.run(job, (signal) => {
        metrics.locks.inc({ result: 'acquired' });
        return runSection(job, ms, signal);
      });
    } catch (err) {
      if (err instanceof LockHeldError) {
        metrics.locks.inc({ result: 'held' });
        return res.status(409).json({ job, instance, error: err.message, request_id: req.id });
      }
      if (err instanceof LockUnavailableError) {
        metrics.locks.inc({ result: 'unavailable' });
        return res.status(503).set('Retry-After', '1').json({ job, instance, error: err.message, request_id: req.id });
      }
      throw err;
    }
    const body = { job, instance, ...result };
    if (!result.completed) log.warn({ job, token: result.token, reason: result.reason }, 'job did not complete');
    return res.status(result.completed ? 200 : 409).json(body);
  });

  router.get('/jobs/:name/sections', async (req, res) => {
    const job = jobName(req);
    const { rows } = await db.query(LIST_SECTIONS, [job]);
    res.json({ job, sections: rows });
  });

  return router;
}

module.exports = { jobsRouter };
