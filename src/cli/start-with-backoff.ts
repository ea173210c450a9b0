import { isHeraldError } from '../errors.js';
import type { Logger } from '../observe/logger.js';
import { backoffMs } from '../relay/backoff.js';
import { sleep } from '../relay/wake.js';

/** Options of {@link startWithBackoff}. */
export interface StartOptions {
  readonly log: Logger;
  /** Throw the first failure instead of waiting (`--fail-fast`). */
  readonly failFast: boolean;
  /** Aborted by SIGTERM/SIGINT: stop waiting. */
  readonly signal: AbortSignal;
  /** Delays between attempts; default 500 ms doubling up to 30 s, with jitter. */
  readonly baseMs?: number;
  readonly maxMs?: number;
}

/**
 * Runs a start-up step (check the broker's topics, claim the outbox's buckets or slot) until it
 * succeeds. A retryable failure — the broker or the database unreachable or restarting — is
 * logged and tried again after a backoff, as the relay does when they go away mid-run, so a
 * relay started before its dependencies waits for them. Anything else (bad config, missing
 * tables or topics), and any failure with `failFast`, is thrown at once. Resolves `false` when
 * `signal` ended the wait, `true` when the step succeeded.
 */
export async function startWithBackoff(what: string, step: () => Promise<void>, options: StartOptions): Promise<boolean> {
  const backoff = { baseMs: options.baseMs ?? 500, maxMs: options.maxMs ?? 30_000 };
  for (let attempt = 1; ; attempt++) {
    if (options.signal.aborted) return false;
    try {
      await step();
      if (attempt > 1) options.log.info(`${what}: reachable again, starting`, { attempts: attempt });
      return true;
    } catch (err) {
      if (options.failFast || !isHeraldError(err) || !err.retryable) throw err;
      const delay = backoffMs(attempt, backoff);
      options.log.warn(`${what}: ${err.message}; waiting ${delay} ms before trying again (--fail-fast exits instead)`, {
        attempt,
        code: err.code,
      });
      await sleep(delay, options.signal);
    }
  }
}
