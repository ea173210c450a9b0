import type { OutgoingEvent } from '../brokers/publisher.js';

/** One outbox event handed to the relay, with where it sits in its source. */
export interface RelayRecord {
  /** The source's position of the record (outbox row id, or an LSN); opaque to the relay. */
  readonly position: string;
  /** Delivery attempts that already failed. */
  readonly attempts: number;
  readonly outgoing: OutgoingEvent;
  /**
   * Leasing sources: the lease the record was read under (its bucket and that bucket's epoch).
   * The source records the delivery only while it still holds this lease with this epoch.
   */
  readonly lease?: LeaseToken;
}

/** The lease a record was read under: a bucket, and the epoch the bucket had then. */
export interface LeaseToken {
  readonly bucket: number;
  /** Incremented by the database each time the bucket changes owner; a decimal string (bigint). */
  readonly epoch: string;
}

/**
 * Who publishes under a source's lease, for publishers that can fence at the broker (Kafka
 * transactions): `identity` is this relay's producer identity (a Kafka transactional id), and
 * `previous` the identities of relays whose leases this relay took over without a clean release,
 * which must be fenced before anything of those leases is published again.
 */
export interface LeaseFencing {
  readonly identity: string;
  readonly previous: readonly string[];
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
  /**
   * Optional read-ahead, called while `inFlight` (the batch just handed out) is being published:
   * up to `max` records that `next` would hand out once `inFlight` is recorded delivered, in the
   * same order, never one of `inFlight`. It never changes what the source holds (no lease renewal,
   * no rebalance, so nothing in flight can move to another relay): when the source would have to,
   * it returns nothing and the relay calls `next` after the batch in flight is recorded. Records
   * carry the lease they were read under, as those of `next`. `inFlight` also holds the chunk the
   * relay is still recording. The relay uses the records only if the whole of `inFlight` was
   * published, and may send the first of them while the last chunk of `inFlight` is still being
   * recorded (if that recording fails, they are sent again after the retry); otherwise it drops
   * them and reads again.
   */
  readAhead?(max: number, inFlight: readonly RelayRecord[]): Promise<RelayRecord[]>;
  /** Resolves when new records may be ready, after `ms` at the latest, or when `signal` aborts. */
  waitForWork(ms: number, signal: AbortSignal): Promise<void>;
  /**
   * The broker acknowledged these records; they will not be handed out again. Leasing sources
   * record only records whose lease is still held with the epoch they were read under, and reject
   * with `LEASE_LOST` (retryable) when any was not: another relay owns those events now.
   */
  delivered(records: readonly RelayRecord[]): Promise<void>;
  /** Delivery failed; hand the record (and the rest of its key) out again after `delayMs`. Fenced as `delivered`. */
  retryLater(record: RelayRecord, error: string, delayMs: number): Promise<void>;
  /** Delivery failed for good; move the record to the dead-letter store with its error. Fenced as `delivered`. */
  deadLetter(record: RelayRecord, error: string): Promise<void>;
  /**
   * Leasing sources: throws `LEASE_LOST` when, by this process's monotonic clock, the lease of any
   * of these records may have run out or changed epoch. Called right before each publish; no I/O.
   */
  checkLease?(records: readonly RelayRecord[]): void;
  /**
   * Leasing sources: asks the database whether the leases of these records are still held by this
   * relay with the epochs they were read under; rejects with `LEASE_LOST` when not. Called after
   * the publisher started a new producer session, before anything is published in it.
   */
  confirmLease?(records: readonly RelayRecord[]): Promise<void>;
  /**
   * Leasing sources: extends the leases this relay holds, keeping their epochs, when a third of
   * the lease has passed since the last renewal (no I/O otherwise). The relay calls it between the
   * publish calls of one long batch (isolating a refused event), where the renewal between batches
   * does not come; a bucket lost meanwhile is dropped, so its records fail `checkLease`.
   */
  renewLease?(): Promise<void>;
  /** This relay's producer identity and the identities still to fence; cheap (no I/O). */
  fencing?(): LeaseFencing | undefined;
  /** These previous owners are fenced (or need no fencing): stop reporting them. */
  fenced?(previous: readonly string[]): Promise<void>;
  close(): Promise<void>;
}
