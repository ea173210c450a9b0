import { HeraldError, ErrorCodes } from '../errors.js';
import type { HeraldEvent } from '../event.js';
import type { OutgoingEvent, Publisher } from '../brokers/publisher.js';

/** One event as a {@link RecordingPublisher} received it, with its `data` parsed back from JSON. */
export interface RecordedEvent {
  readonly topic: string;
  readonly event: HeraldEvent;
}

/**
 * A failure a {@link RecordingPublisher} injects, shaped like the ones real adapters raise:
 * `unavailable` is `BROKER_UNAVAILABLE` (the relay retries the batch, counting nothing against the
 * events), `refused` is a retryable `PUBLISH_FAILED` (retried with backoff, dead-lettered after
 * `maxAttempts`), `rejected` is a non-retryable `PUBLISH_REJECTED` (dead-lettered at once).
 */
export type InjectedFailure = 'unavailable' | 'refused' | 'rejected';

/**
 * A test double of the broker port for a service's own unit tests: keeps every published event in
 * memory, in delivery order, and fails on demand. A rejected publish records nothing (a real broker
 * may have taken any subset; tests that need that case should use a real broker). Never a
 * production publisher.
 */
export class RecordingPublisher implements Publisher {
  readonly name = 'recording';
  /** Every event delivered so far, in the order the publisher acknowledged them. */
  readonly published: RecordedEvent[] = [];
  /** How many `publish` calls were made, failed ones included. */
  calls = 0;
  readonly #topics: ReadonlySet<string> | undefined;
  #failNext: { kind: InjectedFailure; times: number } | undefined;
  readonly #rules: { match: (e: RecordedEvent) => boolean; kind: InjectedFailure }[] = [];
  #closed = false;

  /** With `topics`, `prepare` and `publish` refuse any other topic as `TOPIC_NOT_FOUND`, like a broker that does not auto-create. */
  constructor(options: { readonly topics?: readonly string[] } = {}) {
    this.#topics = options.topics === undefined ? undefined : new Set(options.topics);
  }

  /** Makes the next `times` publish calls fail with `kind`, whatever they carry. */
  failNext(kind: InjectedFailure, times = 1): this {
    this.#failNext = { kind, times };
    return this;
  }

  /** Makes every batch holding an event that `match`es fail with `kind`, until {@link heal}. */
  failWhen(match: (e: RecordedEvent) => boolean, kind: InjectedFailure): this {
    this.#rules.push({ match, kind });
    return this;
  }

  /** Removes every injected failure. */
  heal(): this {
    this.#failNext = undefined;
    this.#rules.length = 0;
    return this;
  }

  /** The delivered events of `topic` (and of one partition key when given), in delivery order; `T` types their `data`. */
  eventsOf<T = unknown>(topic: string, partitionKey?: string): HeraldEvent<T>[] {
    return this.published
      .filter((r) => r.topic === topic && (partitionKey === undefined || r.event.partitionkey === partitionKey))
      .map((r) => r.event as HeraldEvent<T>);
  }

  async prepare(topics: readonly string[]): Promise<void> {
    this.#checkOpen(topics.length);
    for (const topic of topics) this.#checkTopic(topic);
  }

  async publish(batch: readonly OutgoingEvent[]): Promise<void> {
    this.#checkOpen(batch.length);
    this.calls++;
    const recorded = batch.map((o) => ({ topic: o.topic, event: { ...o.event, data: JSON.parse(o.data) as unknown } }));
    for (const r of recorded) this.#checkTopic(r.topic);
    if (this.#failNext !== undefined) {
      const { kind } = this.#failNext;
      if (--this.#failNext.times <= 0) this.#failNext = undefined;
      throw injected(kind, `${batch.length} event(s)`);
    }
    for (const r of recorded) {
      const rule = this.#rules.find((x) => x.match(r));
      if (rule !== undefined) throw injected(rule.kind, `event ${r.event.id}`);
    }
    this.published.push(...recorded);
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  #checkOpen(events: number): void {
    if (this.#closed) throw new HeraldError(ErrorCodes.CLOSED, `recording publisher: called after close() with ${events} event(s)`);
  }

  #checkTopic(topic: string): void {
    if (this.#topics !== undefined && !this.#topics.has(topic)) {
      throw new HeraldError(ErrorCodes.TOPIC_NOT_FOUND, `recording publisher: topic '${topic}' is not among the topics it was given`, {
        details: { topic },
      });
    }
  }
}

function injected(kind: InjectedFailure, what: string): HeraldError {
  if (kind === 'unavailable')
    return new HeraldError(ErrorCodes.BROKER_UNAVAILABLE, `recording publisher: broker down (injected) for ${what}`, { retryable: true });
  if (kind === 'refused')
    return new HeraldError(ErrorCodes.PUBLISH_FAILED, `recording publisher: ${what} refused (injected)`, { retryable: true });
  return new HeraldError(ErrorCodes.PUBLISH_REJECTED, `recording publisher: ${what} rejected (injected)`);
}
