import type { HeraldEvent } from '../event.js';
import type { Logger } from '../observe/logger.js';
import type { RelaySource } from '../relay/source.js';
import type { AppendInput, WriterOptions } from './outbox-rows.js';

/** The databases Herald keeps an outbox in; one folder of `src/` each. */
export type StoreKind = 'postgres' | 'mysql' | 'sqlite';

/** What {@link OutboxStore.migrate} did. */
export interface StoreMigration {
  /** The schema (PostgreSQL), database (MySQL) or file (SQLite) that holds the tables. */
  readonly schema: string;
  readonly buckets: number;
  /** False when everything already existed (the migration changed nothing). */
  readonly created: boolean;
}

/** One topic's line in {@link OutboxStatus}. */
export interface TopicStatus {
  readonly topic: string;
  readonly pending: number;
  /** Seconds since the oldest pending event was written; null when none is pending. */
  readonly oldestPendingSeconds: number | null;
  /** Pending events waiting for a retry after a failure. */
  readonly retrying: number;
  readonly deadLettered: number;
}

/** The state of an outbox, as `herald status` shows it (every store fills the same fields). */
export interface StoreStatus {
  readonly pending: number;
  readonly oldestPendingSeconds: number | null;
  readonly deadLettered: number;
  readonly relays: number;
  readonly topics: readonly TopicStatus[];
}

/** One dead-lettered event, without its payload (payloads stay in the database). */
export interface DeadLetter {
  readonly eventId: string;
  readonly topic: string;
  readonly partitionKey: string;
  readonly type: string;
  readonly attempts: number;
  readonly lastError: string;
  readonly failedAt: string;
}

/**
 * The write side of an outbox: validates each event against its contract, then writes it with
 * the caller's open transaction, which it never begins, commits or rolls back. The event exists
 * if and only if that transaction commits. An invalid event throws `EVENT_INVALID` before any
 * SQL is sent; a handle that is not a transaction (a pool, a root client) throws
 * `TRANSACTION_REQUIRED` naming what to pass instead.
 */
export interface OutboxWriter {
  append<T>(tx: unknown, contract: string, data: T, attributes?: Omit<AppendInput<T>, 'contract' | 'data'>): Promise<HeraldEvent<T>>;
  /** Validates every input first; writes all of them in input order, or none. */
  appendMany(tx: unknown, inputs: readonly AppendInput[]): Promise<HeraldEvent[]>;
  /**
   * Stores whose driver is synchronous (SQLite on better-sqlite3) also write synchronously, for
   * transaction functions that cannot await (`db.transaction(fn)`): same validation, same
   * refusals, thrown instead of rejected; the rows are written when it returns.
   */
  appendManySync?(tx: unknown, inputs: readonly AppendInput[]): HeraldEvent[];
}

/** What a store offers beyond the common port, shown in the README's stores table. */
export interface StoreCapabilities {
  /** Relay sources this store has (`polling` everywhere; `logical` on PostgreSQL). */
  readonly sources: readonly ('polling' | 'logical')[];
  /** `EagerDispatcher` (publish right after commit, relay as the safety net). */
  readonly eagerDispatch: boolean;
  /** The idempotent inbox and `herald consume`. */
  readonly inbox: boolean;
}

/**
 * What a database must give Herald: its tables (migrate, status), the write inside the caller's
 * transaction, a relay source that hands out events in commit order per partition key with
 * several relays at once, and dead letters with requeue. The relay core, the patterns, the
 * warehouse and the CLI depend on this port only; every store passes the same conformance suite
 * (`test/stores/conformance.ts`).
 */
export interface OutboxStore {
  readonly kind: StoreKind;
  readonly capabilities: StoreCapabilities;
  /** Creates or checks the tables; idempotent; refuses a server too old for what Herald relies on. */
  migrate(): Promise<StoreMigration>;
  status(): Promise<StoreStatus>;
  /** Dead letters, oldest first, at most `limit` (default 100). */
  deadLetters(limit?: number): Promise<DeadLetter[]>;
  /** Moves dead letters (all, or those ids) back into the outbox with their event ids; returns how many. */
  requeue(eventIds?: readonly string[]): Promise<number>;
  /** The outbox writer for a service, validating against `contracts` and refusing events over `maxEventBytes`. */
  writer(options: WriterOptions): OutboxWriter;
  /**
   * A polling relay source with leased buckets. `idlePollMs` is how often it polls while idle on
   * a PostgreSQL outbox without NOTIFY trigger; the other stores poll at the relay's interval.
   */
  pollingSource(options?: { readonly leaseMs?: number; readonly idlePollMs?: number; readonly logger?: Logger }): RelaySource;
}

/** Options every store takes, from config or flags. */
export interface StoreOptions {
  /** PostgreSQL schema / MySQL database holding Herald's tables; on SQLite, the prefix of their names. */
  readonly schema?: string;
  /** Ordering buckets, fixed at the first migrate. */
  readonly buckets?: number;
}
