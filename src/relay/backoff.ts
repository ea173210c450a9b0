/** Options of {@link backoffMs}. */
export interface BackoffOptions {
  /** Delay before the first retry, in milliseconds. */
  readonly baseMs: number;
  /** Upper bound of any delay, in milliseconds. */
  readonly maxMs: number;
}

/**
 * Exponential backoff with "equal jitter": half of the exponential delay is fixed and half is
 * random, so retries from many relays spread out but never collapse to zero.
 * `attempt` counts from 1.
 */
export function backoffMs(attempt: number, { baseMs, maxMs }: BackoffOptions, random: () => number = Math.random): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exp / 2 + random() * (exp / 2));
}
