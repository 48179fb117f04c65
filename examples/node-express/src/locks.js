'use strict';

// Distributed job locks: Redlock over independent Redis nodes (a majority).
//
// We use redlock's acquire / extend / release (the owner-checked Lua scripts
// and the quorum counting) but not its `using()` helper, because `using()`
// keeps retrying a failed extension until the lock has already expired, and
// lets a failed release replace the result of the job. Here:
//   * acquire never retries: "held by someone else" answers at once (409), and
//     is told apart from "fewer than a majority of nodes answered" (503);
//   * the lock is extended every TTL/3 while the job runs; the first extension
//     that does not reach a majority aborts the job's AbortSignal;
//   * release deletes the key only where it still holds this owner's value.

const { setTimeout: sleep } = require('node:timers/promises');
const { default: Redlock, ExecutionError, ResourceLockedError } = require('redlock');

class LockHeldError extends Error {
  constructor(resource) {
    super(`lock ${resource} is held by another owner`);
    this.name = 'LockHeldError';
    this.status = 409;
  }
}

class LockUnavailableError extends Error {
  constructor(resource, detail) {
    super(`lock ${resource} unavailable: ${detail}`);
    this.name = 'LockUnavailableError';
    this.status = 503;
  }
}

class LockLostError extends Error {
  constructor(resource, detail) {
    super(`lock ${resource} lost: ${detail}`);
    this.name = 'LockLostError';
  }
}

class JobLocks {
  constructor({ clients, ttlMs, driftFactor, keyPrefix, log }) {
    this.ttlMs = ttlMs;
    this.keyPrefix = keyPrefix;
    this.log = log.child({ component: 'locks' });
    this.redlock = new Redlock(clients, {
      driftFactor,
      retryCount: 0, // contention is an answer, not something to wait for
      retryDelay: 0,
      retryJitter: 0,
    });
    this.redlock.on('error', (err) => {
      // Every node that votes against emits one: contention is normal, a node
      // that errors or times out is worth a debug line (the minority may fail).
      if (!(err instanceof ResourceLockedError)) this.log.debug({ err: err.message }, 'lock node error');
    });
  }

  key(job) {
    return `${this.keyPrefix}job:${job}`;
  }

  /**
   * Take the lock of `job`, run `work(signal)` while keeping it extended, then
   * release it. `signal` aborts (reason: LockLostError) when an extension fails.
   */
  async run(job, work) {
    const resource = this.key(job);
    let lock = await this.#acquire(resource);

    const lost = new AbortController();
    const stopExtending = new AbortController();
    const extender = (async () => {
      for (;;) {
        try {
          await sleep(Math.max(1, Math.floor(this.ttlMs / 3)), undefined, { signal: stopExtending.signal });
        } catch {
          return; // the job is over
        }
        try {
          lock = await lock.extend(this.ttlMs);
        } catch (err) {
          const detail = await describeFailure(err);
          this.log.warn({ resource, detail }, 'lock extension failed; stopping the job');
          lost.abort(new LockLostError(resource, detail));
          return;
        }
      }
    })();

    try {
      return await work(lost.signal);
    } finally {
      stopExtending.abort();
      await extender;
      try {
        await this.redlock.release(lock);
      } catch (err) {
        // Not held any more on a majority (expired, or nodes down): the keys
        // expire by themselves; nobody else's lock was touched.
        this.log.info({ resource, detail: await describeFailure(err) }, 'lock release incomplete');
      }
    }
  }

  async #acquire(resource) {
    let lock;
    try {
      lock = await this.redlock.acquire([resource], this.ttlMs);
    } catch (err) {
      if (!(err instanceof ExecutionError)) throw err;
      const votes = await countVotes(err);
      if (votes && votes.answered >= votes.quorum) throw new LockHeldError(resource);
      throw new LockUnavailableError(
        resource,
        votes ? `only ${votes.answered} of ${votes.nodes} nodes answered` : err.message,
      );
    }
    if (lock.expiration <= Date.now()) {
      // Acquiring took longer than the lock is valid: it is worth nothing.
      await this.redlock.release(lock).catch(() => {});
      throw new LockUnavailableError(resource, 'acquired too late to be valid');
    }
    return lock;
  }

  async close() {
    // The Redis clients are closed by their owner (shutdown).
    this.redlock.removeAllListeners();
  }
}

/** Votes of the last attempt: nodes that answered (granted or "held") vs. errors and timeouts. */
async function countVotes(err) {
  const last = err.attempts && err.attempts[err.attempts.length - 1];
  if (!last) return undefined;
  const stats = await last; // resolves once every node voted (bounded by the command timeout)
  const held = [...stats.votesAgainst.values()].filter((e) => e instanceof ResourceLockedError).length;
  return { answered: stats.votesFor.size + held, quorum: stats.quorumSize, nodes: stats.membershipSize };
}

async function describeFailure(err) {
  const votes = err instanceof ExecutionError ? await countVotes(err) : undefined;
  if (!votes) return err.message;
  return `${votes.answered}/${votes.nodes} nodes answered, quorum ${votes.quorum}`;
}

module.exports = { JobLocks, LockHeldError, LockUnavailableError, LockLostError };
