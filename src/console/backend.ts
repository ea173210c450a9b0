import type { MonitoredStatus } from '../observe/outbox-status-monitor.js';
import type { DeadLetter, StoreKind } from '../store/port.js';

/** One live relay instance and the ordering buckets it holds a lease on right now. */
export interface ConsoleRelay {
  readonly id: string;
  readonly host: string;
  readonly pid: number;
  /** Seconds since the relay last reported itself alive. */
  readonly seenSecondsAgo: number;
  /** Bucket numbers whose lease this relay holds and that have not expired, ascending. */
  readonly buckets: readonly number[];
}

/** A dead letter with what the console shows beyond the port's {@link DeadLetter}. */
export interface ConsoleDeadLetter extends DeadLetter {
  /** The contract the event was written under (its `dataschema`), when recorded. */
  readonly dataschema: string | null;
  /** The payload as stored, or `undefined` when the store cannot read payloads. Never shown raw. */
  readonly data?: unknown;
}

/** One page of dead letters, oldest first, and how many match the filter in all. */
export interface DeadLetterPage {
  readonly total: number;
  readonly letters: readonly ConsoleDeadLetter[];
}

/** Which dead letters an action or a page means: given ids, or everything of one topic (or all). */
export interface DeadLetterFilter {
  /** Only dead letters of this topic; undefined means every topic. */
  readonly topic?: string;
}

/**
 * What the console needs from a database. Every method reads or changes only Herald's tables,
 * each call in its own short transaction; none is held open between requests. A store whose
 * port lacks an operation says so in {@link ConsoleBackend.can}, and the console hides it.
 */
export interface ConsoleBackend {
  readonly kind: StoreKind;
  /** Operations beyond reading the status and dead letters. */
  readonly can: { readonly drop: boolean; readonly payloads: boolean; readonly relays: boolean; readonly deliveryRate: boolean };
  /** The outbox status (and the replication slot, where there is one), read now. */
  status(): Promise<MonitoredStatus>;
  /** Live relays and their leased buckets; empty where the store cannot tell. */
  relays(): Promise<ConsoleRelay[]>;
  /**
   * A monotonically growing count of events removed from the outbox by delivery, for a rate
   * between two samples; undefined where the store has no such counter. It may lag the truth by
   * the database's statistics interval (about a second on PostgreSQL).
   */
  deliveredTotal(): Promise<number | undefined>;
  /** Dead letters matching `filter`, oldest first, skipping `offset`, at most `limit`. */
  deadLetterPage(filter: DeadLetterFilter, offset: number, limit: number): Promise<DeadLetterPage>;
  /** The event ids of every dead letter matching `filter`, oldest first (at most `limit`). */
  deadLetterIds(filter: DeadLetterFilter, limit: number): Promise<string[]>;
  /** Moves these dead letters back into the outbox (the port's requeue); returns how many moved. */
  requeue(eventIds: readonly string[]): Promise<number>;
  /** Deletes these dead letters for good; returns how many were deleted. Throws where `can.drop` is false. */
  drop(eventIds: readonly string[]): Promise<number>;
  close(): Promise<void>;
}
