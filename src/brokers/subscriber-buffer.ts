import { HeraldError, ErrorCodes } from '../errors.js';
import { subscriberDefaults, type SubscriberOptions } from './subscriber.js';

/** {@link SubscriberOptions} with the defaults applied, checked once by {@link subscriberSettings}. */
export interface SubscriberSettings {
  readonly topics: readonly string[];
  readonly group: string;
  readonly maxBatch: number;
  readonly maxWaitMs: number;
  readonly createSubscriptions: boolean;
}

/**
 * Applies {@link subscriberDefaults} and checks what every subscriber shares; a bad value is a
 * `CONFIG_INVALID` naming the option. `broker` starts the messages (`pubsub`, `nats`, ...).
 */
export function subscriberSettings(broker: string, options: SubscriberOptions): SubscriberSettings {
  const fail = (option: string, rule: string): never => {
    throw new HeraldError(ErrorCodes.CONFIG_INVALID, `${broker} subscriber option '${option}' must be ${rule}`, { details: { option } });
  };
  const topics: string[] = [...new Set(Array.isArray(options.topics) ? options.topics : [])];
  if (topics.length === 0 || topics.some((t) => typeof t !== 'string' || t === '')) fail('topics', 'a non-empty list of topic names');
  if (typeof options.group !== 'string' || options.group === '') fail('group', 'a non-empty name');
  const settings = { ...subscriberDefaults, ...definedOnly(options), topics, group: options.group };
  if (!Number.isInteger(settings.maxBatch) || settings.maxBatch < 1) fail('maxBatch', 'a positive integer');
  if (!Number.isInteger(settings.maxWaitMs) || settings.maxWaitMs < 0) fail('maxWaitMs', 'a whole number of milliseconds, 0 or more');
  return settings;
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * Holds what a broker client delivered until a batch is due: when `maxBatch` items are there, or
 * `maxWaitMs` after the first of them arrived. Brokers push into it from their own callbacks or
 * loops; `next()` is the single consumer. `end()` (close) and an aborted signal make a waiting
 * `next()` return at once, so an iteration never outlives its subscriber.
 */
export class BatchBuffer<T> {
  #items: T[] = [];
  /** When the oldest held item arrived; items left over from a full batch count as due at once. */
  #since = 0;
  #failure: Error | undefined;
  #ended = false;
  #wakers = new Set<() => void>();

  /** How many items are held. */
  get size(): number {
    return this.#items.length;
  }

  /** Whether `end()` was called. */
  get ended(): boolean {
    return this.#ended;
  }

  push(item: T): void {
    if (this.#ended) return;
    if (this.#items.length === 0) this.#since = Date.now();
    this.#items.push(item);
    this.#wake();
  }

  /** Makes the next `next()` reject with `error` (the first one given wins). */
  fail(error: Error): void {
    this.#failure ??= error;
    this.#wake();
  }

  /** Ends the stream: a waiting `next()` returns `undefined`, later pushes are dropped. */
  end(): void {
    this.#ended = true;
    this.#wake();
  }

  /** Takes every held item, e.g. to give them back to the broker on close. */
  drain(): T[] {
    return this.#items.splice(0);
  }

  /**
   * The next batch of at most `maxBatch` items, once it is due; `undefined` once the buffer ended
   * or `signal` aborted. Rejects with the error given to `fail()`.
   */
  async next(maxBatch: number, maxWaitMs: number, signal?: AbortSignal): Promise<T[] | undefined> {
    for (;;) {
      if (this.#failure) throw this.#failure;
      if (this.#ended || signal?.aborted) return undefined;
      const held = this.#items.length;
      const waited = Date.now() - this.#since;
      if (held >= maxBatch || (held > 0 && waited >= maxWaitMs)) {
        const batch = this.#items.splice(0, maxBatch);
        this.#wake();
        return batch;
      }
      await this.#changed(held > 0 ? maxWaitMs - waited : undefined, signal);
    }
  }

  /** Resolves once fewer than `limit` items are held, or the buffer ended: back-pressure for pulling loops. */
  async room(limit: number): Promise<void> {
    while (!this.#ended && this.#items.length >= limit) await this.#changed(undefined);
  }

  #wake(): void {
    const wakers = [...this.#wakers];
    this.#wakers.clear();
    for (const wake of wakers) wake();
  }

  /** Resolves on the next push, take, failure or end, after `ms` if given, or when `signal` aborts. */
  #changed(ms: number | undefined, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.#wakers.delete(done);
        resolve();
      };
      const timer = ms === undefined ? undefined : setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
      this.#wakers.add(done);
    });
  }
}

/** What {@link untilStopped} settles with when its signal aborts first. */
export const STOPPED = Symbol('stopped');

/**
 * Settles like `operation`, or with {@link STOPPED} as soon as `stop` aborts, so a subscriber's
 * `close()` ends a blocking read or a group join at once. A later rejection of `operation` is
 * swallowed: the caller has moved on.
 */
export function untilStopped<T>(operation: Promise<T>, stop: AbortSignal): Promise<T | typeof STOPPED> {
  operation.catch(() => undefined);
  if (stop.aborted) return Promise.resolve(STOPPED);
  return new Promise((resolve, reject) => {
    const onStop = (): void => resolve(STOPPED);
    stop.addEventListener('abort', onStop, { once: true });
    operation.then(resolve, reject).finally(() => stop.removeEventListener('abort', onStop));
  });
}
