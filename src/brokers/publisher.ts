import { HeraldError, isHeraldError } from '../errors.js';
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
 *   (for Kafka: `acks=all`). When it rejects, any subset of the batch may have been delivered,
 *   unless the rejection reports, with {@link reportDelivered}, events the broker is known to have
 *   stored: a caller then counts those as delivered instead of sending them again (the others may
 *   or may not have been stored). An adapter reports an event only when the broker acknowledged it
 *   durably, and only when no earlier event of its partition key in the batch is left unreported
 *   (what it reports is, per key, a prefix), so that sending the rest again keeps per-key order.
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
  /**
   * True when every publish call pays a fixed cost that dwarfs its events (a Kafka transaction:
   * begin, commit, markers): the relay then sends a batch in one call instead of in two chunks
   * whose recording it overlaps with sending.
   */
  readonly wholeBatches?: boolean;
  /**
   * Optional, for brokers that can fence a stale producer themselves (Kafka transactions). The
   * relay calls it before every publish while its source leases what it reads; it must be cheap
   * when nothing changed. It makes sure that no producer of `previous` (relays whose leases this
   * one took over) can still commit anything, and that this publisher publishes as `identity`.
   * Resolves `true` when it started a new producer session (initialised a producer, which fences
   * every older producer of `identity`): the relay then confirms its lease with the database
   * before publishing, because only a session started after the lease was confirmed is safe to use.
   * Rejects (retryable) when the broker could not be reached; the relay then publishes nothing.
   * A publish the broker refuses because this producer was fenced rejects with `LEASE_LOST`.
   */
  fence?(fencing: { readonly identity: string; readonly previous: readonly string[] }): Promise<boolean>;
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

/**
 * Returns `err` carrying the indices (into the rejected batch) of the events the broker durably
 * stored although the batch as a whole was rejected, for {@link deliveredOf}. Returns `err` itself
 * when `delivered` is empty. Code, message, `retryable` and `cause` are kept.
 */
export function reportDelivered(err: HeraldError, delivered: Iterable<number>): HeraldError {
  const indices = [...new Set(delivered)].sort((a, b) => a - b);
  if (indices.length === 0) return err;
  const reported = new HeraldError(err.code, err.message, {
    retryable: err.retryable,
    cause: err.cause,
    details: { ...err.details, delivered: indices },
  });
  if (err.stack !== undefined) reported.stack = err.stack;
  return reported;
}

/**
 * The indices of a rejected batch of `size` events that the publisher reported stored with
 * {@link reportDelivered}, in ascending order; empty when the rejection says nothing about single
 * events (then any subset may have been delivered). Indices outside the batch are ignored.
 */
export function deliveredOf(err: unknown, size: number): readonly number[] {
  if (!isHeraldError(err)) return [];
  const reported = err.details.delivered;
  if (!Array.isArray(reported)) return [];
  return reported.filter((i): i is number => Number.isInteger(i) && (i as number) >= 0 && (i as number) < size);
}

/**
 * The indices of `batch` for which `stored(i)` holds, keeping for each topic and partition key
 * only the events before that key's first event that was not stored: what an adapter whose broker
 * answers per message may give {@link reportDelivered} without breaking per-key order.
 */
export function storedPrefixes(batch: readonly OutgoingEvent[], stored: (i: number) => boolean): number[] {
  const broken = new Set<string>();
  const out: number[] = [];
  batch.forEach((e, i) => {
    const key = `${e.topic}\u0000${e.event.partitionkey}`;
    if (broken.has(key)) return;
    if (stored(i)) out.push(i);
    else broken.add(key);
  });
  return out;
}
