import type { HeraldEvent } from '../event.js';

/** An event on its way to a broker: its envelope, its destination and its `data` as JSON text. */
export interface OutgoingEvent {
  /** CloudEvents attributes; `data` is carried separately as already-serialised JSON. */
  readonly event: Omit<HeraldEvent, 'data'>;
  readonly topic: string;
  /** The event's `data`, serialised as JSON exactly once, by the database or the caller. */
  readonly data: string;
}

/**
 * The broker port. Every adapter documents its ordering and deduplication mapping.
 *
 * - `publish` resolves only after the broker has durably acknowledged every event of the batch
 *   (for Kafka: `acks=all`). When it rejects, any subset of the batch may have been delivered.
 * - Events of one partition key are handed to the broker in batch order, and the adapter keeps
 *   that order wherever the broker can.
 * - Rejections are `HeraldError`s: `BROKER_UNAVAILABLE` when the broker could not be reached,
 *   `PUBLISH_FAILED` (retryable) or `PUBLISH_REJECTED` (not retryable) for a refusal,
 *   `TOPIC_NOT_FOUND` when a destination does not exist.
 * - `close()` is idempotent; `publish` after `close` rejects with `CLOSED`.
 */
export interface Publisher {
  /** A short name for logs and metrics, e.g. `kafka`. */
  readonly name: string;
  /** Checks that every topic exists (creating it when allowed); rejects naming the first missing. */
  prepare(topics: readonly string[]): Promise<void>;
  publish(batch: readonly OutgoingEvent[]): Promise<void>;
  close(): Promise<void>;
}

/** The CloudEvents attribute names carried as broker headers, in a fixed order. */
export const ceAttributes = [
  'specversion',
  'id',
  'source',
  'type',
  'time',
  'subject',
  'dataschema',
  'partitionkey',
  'traceparent',
] as const;
