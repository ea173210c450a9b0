import type { OutgoingEvent } from '../brokers/publisher.js';

/** One outbox event handed to the relay, with where it sits in its source. */
export interface RelayRecord {
  /** The source's position of the record (outbox row id, or an LSN); opaque to the relay. */
  readonly position: string;
  /** Delivery attempts that already failed. */
  readonly attempts: number;
  readonly outgoing: OutgoingEvent;
}

/** What a source holds right now that lets it deliver: its bucket leases, or its replication slot. */
export interface SourceOwnership {
  /** True when this relay may deliver something now (holds at least one lease, or streams its slot). */
  readonly held: boolean;
  /** Polling sources: the buckets this relay leases now. */
  readonly leasedBuckets?: number;
  /** Logical source: the slot it streams from. */
  readonly slot?: string;
}

/**
 * Where a relay reads events from. A source hands out records in commit order per partition key,
 * and keeps each one until the relay reports it `delivered` or `deadLettered`: a record that is
 * neither (the relay crashed) is handed out again, which is what makes delivery at-least-once.
 */
export interface RelaySource {
  readonly name: string;
  /** The relay instance's id where the source records one (polling sources: the lease owner). */
  readonly instanceId?: string;
  /** What this source holds now, for health checks and metrics; cheap (no I/O). */
  ownership?(): SourceOwnership;
  start(): Promise<void>;
  /** Up to `max` records this relay may deliver now, in order; empty when there is nothing. */
  next(max: number): Promise<RelayRecord[]>;
  /** Resolves when new records may be ready, after `ms` at the latest, or when `signal` aborts. */
  waitForWork(ms: number, signal: AbortSignal): Promise<void>;
  /** The broker acknowledged these records; they will not be handed out again. */
  delivered(records: readonly RelayRecord[]): Promise<void>;
  /** Delivery failed; hand the record (and the rest of its key) out again after `delayMs`. */
  retryLater(record: RelayRecord, error: string, delayMs: number): Promise<void>;
  /** Delivery failed for good; move the record to the dead-letter store with its error. */
  deadLetter(record: RelayRecord, error: string): Promise<void>;
  close(): Promise<void>;
}
