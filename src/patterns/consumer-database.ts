import type { InboxDeadLetter, InboxOutcome } from '../postgres/inbox.js';

/**
 * What the listen-to-yourself runtime needs of the service's database, one implementation per
 * store (`src/postgres/consumer-database.ts`, `src/mysql/consumer-database.ts`): one connection,
 * a transaction per event, and the inbox inside it. The handler's writes and the inbox row
 * commit together or not at all; that is what makes the effect exactly once.
 */
export interface ConsumerDatabase {
  /** The consumer dead-letter table, quoted, for log lines that point at it. */
  readonly deadLetterTable: string;
  /** Connects and checks that the inbox tables exist: `NOT_MIGRATED` otherwise. */
  check(consumer: string): Promise<void>;
  /**
   * Runs `work` in a new transaction and commits it; on a throw rolls back and rethrows the
   * error unchanged (a connection that cannot roll back is dropped, the next call opens one).
   * `tx` is the handle handlers receive: a node-postgres client, a mysql2 connection.
   */
  transaction<T>(eventId: string, work: (tx: unknown) => Promise<T>): Promise<T>;
  /** Records `eventId` for `consumer` in `tx` and runs `apply` only if it was new. */
  processOnce<T>(tx: unknown, consumer: string, eventId: string, apply: () => Promise<T>): Promise<InboxOutcome<T>>;
  /** Records a dead letter and its id in `tx`; false (nothing written) when the id is already in the inbox. */
  deadLetter(tx: unknown, consumer: string, letter: InboxDeadLetter): Promise<boolean>;
  /** Whether a driver error of this database is worth retrying (lost connection, deadlock, lock timeout). */
  isRetryable(err: unknown): boolean;
  close(): Promise<void>;
}
