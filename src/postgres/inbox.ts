/**
 * The inbox: a consumer-side table of the event ids a consumer has already applied, keyed by
 * `(consumer, event_id)`. Recording the id and applying the event in one database transaction
 * turns at-least-once delivery into an exactly-once *effect*: a redelivered event finds its id
 * and is skipped. Used by the listen-to-yourself runtime (`SelfConsumer` in `listen.ts`) and by any
 * consumer that writes to PostgreSQL.
 */
import { preparedStatementName } from './statement-name.js';
import { HeraldError, ErrorCodes } from '../errors.js';
import { quoteIdent } from './identifiers.js';
import { connectPg, isConnectionError } from './connect.js';
import { executorFor } from '../store/executor-for.js';

/** Where the inbox lives; defaults in {@link inboxDefaults}. */
export interface InboxOptions {
  /** Schema of the inbox tables, created when missing; a lowercase identifier. Default `herald`. */
  readonly schema?: string;
  /** The table of applied event ids. Default `inbox`. */
  readonly table?: string;
  /**
   * The consumer dead-letter table: events a consumer could not apply, with the reason. Default
   * `inbox_dead_letter`.
   */
  readonly deadLetterTable?: string;
  /**
   * Send the inbox statement as a named (prepared) statement, planned once per connection.
   * Default true; turn it off behind a pooler that cannot keep prepared statements (PgBouncer in
   * transaction mode before 1.21).
   */
  readonly prepareStatements?: boolean;
}

/** The defaults of {@link InboxOptions}, in one table. */
export const inboxDefaults = {
  schema: 'herald',
  table: 'inbox',
  deadLetterTable: 'inbox_dead_letter',
  prepareStatements: true,
} as const;

/** Validated, quoted names of the inbox objects. */
export interface InboxNames {
  /** The schema name as configured (unquoted). */
  readonly schemaName: string;
  readonly schema: string;
  readonly inbox: string;
  readonly deadLetter: string;
  /** The index on `processed_at` that {@link pruneInbox} uses (unqualified, quoted). */
  readonly processedAtIndex: string;
}

/** Validates the options once (`CONFIG_INVALID` naming the option) and derives every quoted name. */
export function inboxNames(options: InboxOptions = {}): InboxNames {
  const schemaName = options.schema ?? inboxDefaults.schema;
  const table = options.table ?? inboxDefaults.table;
  const deadLetterTable = options.deadLetterTable ?? inboxDefaults.deadLetterTable;
  const schema = quoteIdent(schemaName, 'schema');
  quoteIdent(table, 'table');
  quoteIdent(deadLetterTable, 'deadLetterTable');
  if (table === deadLetterTable) {
    throw new HeraldError(ErrorCodes.CONFIG_INVALID, `options 'table' and 'deadLetterTable' must differ, both are '${table}'`, {
      details: { option: 'deadLetterTable' },
    });
  }
  return {
    schemaName,
    schema,
    inbox: `${schema}."${table}"`,
    deadLetter: `${schema}."${deadLetterTable}"`,
    // PostgreSQL truncates a name past 63 bytes; the index then still gets a stable name.
    processedAtIndex: `"${table}_processed_at"`,
  };
}

/** What {@link PostgresInbox.processOnce} did: applied the event (with `apply`'s result), or skipped it. */
export type InboxOutcome<T> = { readonly applied: true; readonly value: T } | { readonly applied: false };

/** An event a consumer cannot apply, as {@link PostgresInbox.deadLetter} records it. */
export interface InboxDeadLetter {
  /** The event id; `<topic>@<position>` for a message without one. */
  readonly eventId: string;
  readonly topic: string;
  readonly position: string;
  readonly eventType: string | null;
  readonly dataschema: string | null;
  /** Why it cannot be applied; names the contract, handler or attribute, never a payload value. */
  readonly reason: string;
  /** The event's `data` as received, kept in the consumer's own database so it can be replayed. */
  readonly data: string | null;
}

/**
 * The PostgreSQL inbox. Every method works inside the **caller's** transaction — a node-postgres
 * client after `BEGIN`, or the `sql` of postgres.js `sql.begin()` — and never begins, commits or
 * rolls back; a pg `Pool` or a postgres.js root `sql` is refused with `TRANSACTION_REQUIRED`,
 * because the inbox row must commit with the handler's writes.
 *
 * Guarantee: when the caller commits after {@link PostgresInbox.processOnce}, the event took effect exactly
 * once for that consumer, however often it was delivered. Run it under READ COMMITTED (the
 * PostgreSQL default): a second transaction processing the same id waits for the first on the
 * primary key, then skips it if the first committed or applies it if the first rolled back.
 * Under REPEATABLE READ or SERIALIZABLE that wait ends in a serialization failure (`40001`)
 * instead, which the caller must retry.
 *
 * ```ts
 * await client.query('BEGIN');
 * const { applied } = await inbox.processOnce(client, 'billing', event.id, () => charge(client, event));
 * await client.query('COMMIT'); // on a throw: ROLLBACK, and the event is applied on its redelivery
 * ```
 */
export class PostgresInbox {
  /** The validated, quoted names of the tables this inbox writes. */
  readonly names: InboxNames;
  readonly #insertSql: string;
  readonly #deadLetterSql: string;
  readonly #statements: { insert: string; deadLetter: string } | undefined;

  constructor(options: InboxOptions = {}) {
    this.names = inboxNames(options);
    this.#insertSql = `INSERT INTO ${this.names.inbox} (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING true AS inserted`;
    this.#deadLetterSql = `INSERT INTO ${this.names.deadLetter} (consumer, event_id, topic, position, event_type, dataschema, reason, data)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`;
    const prepare = options.prepareStatements ?? inboxDefaults.prepareStatements;
    // Statement names are per connection; hashing the text keeps two inboxes (other tables) on
    // one connection from sharing a name.
    this.#statements = prepare ? { insert: preparedStatementName('herald_inbox_', this.#insertSql), deadLetter: preparedStatementName('herald_inbox_', this.#deadLetterSql) } : undefined;
  }

  /**
   * Applies the event `eventId` for `consumer` at most once, inside `tx`: records the id with
   * `INSERT … ON CONFLICT DO NOTHING`, and only when that inserted a row, runs `apply` (which
   * should write through the same `tx`). Resolves `{ applied: false }` without calling `apply`
   * when the id is already recorded.
   *
   * If `apply` throws, the error is passed on unchanged and the inbox row is still part of `tx`:
   * the caller's `ROLLBACK` removes it together with whatever `apply` wrote, so a retry applies
   * the event. Rejects with `NOT_MIGRATED` when the inbox table is missing (run
   * {@link migrateInbox}) and `DATABASE_ERROR` otherwise (`retryable` for a lost connection, a
   * serialization failure or a deadlock).
   */
  async processOnce<T>(tx: unknown, consumer: string, eventId: string, apply: () => Promise<T>): Promise<InboxOutcome<T>> {
    const executor = executorFor(tx, 'postgres');
    checkConsumer(consumer);
    checkEventId(eventId);
    let inserted: boolean;
    try {
      const { rows } = await executor.query(this.#insertSql, [consumer, eventId], this.#statements?.insert);
      inserted = rows.length === 1;
    } catch (cause) {
      throw inboxError(cause, `cannot record event ${eventId} in the inbox of consumer '${consumer}'`, this.names);
    }
    if (!inserted) return { applied: false };
    return { applied: true, value: await apply() };
  }

  /**
   * Records, inside `tx`, that `consumer` cannot apply an event: a row in the consumer
   * dead-letter table with the reason, and the event id in the inbox, so that a redelivery of
   * the same event is skipped rather than dead-lettered again. Resolves false (writing nothing)
   * when the id is already in the inbox. To replay a dead letter, delete both rows and publish
   * the event again.
   */
  async deadLetter(tx: unknown, consumer: string, letter: InboxDeadLetter): Promise<boolean> {
    const executor = executorFor(tx, 'postgres');
    const outcome = await this.processOnce(tx, consumer, letter.eventId, async () => {
      const params = [
        consumer,
        letter.eventId,
        letter.topic,
        letter.position,
        letter.eventType,
        letter.dataschema,
        letter.reason,
        letter.data,
      ];
      try {
        await executor.query(this.#deadLetterSql, params, this.#statements?.deadLetter);
      } catch (cause) {
        throw inboxError(cause, `cannot dead-letter event ${letter.eventId} of consumer '${consumer}'`, this.names);
      }
    });
    return outcome.applied;
  }
}

/** A node-postgres `Client`, `PoolClient` or `Pool`: what {@link migrateInbox} and {@link pruneInbox} accept besides a URL. */
export interface PgQueryable {
  query(text: string, values?: unknown[]): Promise<unknown>;
}

/** What {@link migrateInbox} did. */
export interface InboxMigrationResult {
  readonly schema: string;
  readonly table: string;
  readonly deadLetterTable: string;
  /** False when the inbox table already existed. */
  readonly created: boolean;
}

/**
 * Creates (or checks) the inbox table, its `processed_at` index and the consumer dead-letter
 * table. Idempotent: running it again changes nothing. `target` is a `postgres://` URL (a
 * connection is opened and closed) or a node-postgres client or pool; the statements go in one
 * implicit transaction, or join the client's open transaction. Concurrent migrations of one
 * schema (also with `herald migrate`) are serialised by an advisory lock.
 */
export async function migrateInbox(target: string | PgQueryable, options: InboxOptions = {}): Promise<InboxMigrationResult> {
  const n = inboxNames(options);
  const table = options.table ?? inboxDefaults.table;
  const deadLetterTable = options.deadLetterTable ?? inboxDefaults.deadLetterTable;
  // One simple-protocol string: PostgreSQL runs it as one transaction, so the transaction-scoped
  // lock covers every statement even on a pool or an autocommit client. The names are validated
  // identifiers, so embedding them as literals is safe.
  const sql = `SELECT pg_advisory_xact_lock(hashtext('herald-migrate:${n.schemaName}'));
    SELECT to_regclass('${n.inbox}') IS NULL AS created;
    CREATE SCHEMA IF NOT EXISTS ${n.schema};
    CREATE TABLE IF NOT EXISTS ${n.inbox} (
      consumer text NOT NULL,
      event_id text NOT NULL,
      processed_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (consumer, event_id));
    CREATE INDEX IF NOT EXISTS ${n.processedAtIndex} ON ${n.inbox} (processed_at);
    CREATE TABLE IF NOT EXISTS ${n.deadLetter} (
      consumer text NOT NULL,
      event_id text NOT NULL,
      topic text NOT NULL,
      position text NOT NULL,
      event_type text,
      dataschema text,
      reason text NOT NULL,
      data text,
      failed_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (consumer, event_id));`;
  const results = await withQueryable(target, 'herald-migrate', async (db) => {
    try {
      return await db.query(sql);
    } catch (cause) {
      throw inboxError(cause, `cannot migrate the inbox in schema '${n.schemaName}'`, n);
    }
  });
  const probe = Array.isArray(results) ? (results[1] as { rows?: { created?: boolean }[] } | undefined) : undefined;
  return { schema: n.schemaName, table, deadLetterTable, created: probe?.rows?.[0]?.created === true };
}

/** Options of {@link pruneInbox}. */
export interface PruneInboxOptions extends InboxOptions {
  /** Forget ids recorded longer ago than this many milliseconds. */
  readonly olderThanMs: number;
  /** Only this consumer's ids; default every consumer's. */
  readonly consumer?: string;
  /** Rows deleted per statement, so no statement holds many row locks for long. Default 10000. */
  readonly batchSize?: number;
}

/**
 * Deletes inbox ids older than `olderThanMs`, for retention; resolves with how many were removed.
 *
 * Forgetting an id is safe only once the broker can no longer deliver that event again: pick an
 * age beyond the redelivery horizon — the topic's retention (Kafka `retention.ms`, a stream's
 * max age), the longest a consumer group may lag, and any replay you may run (a relay requeueing
 * dead letters, a reset of consumer offsets). An event redelivered after its id was pruned is
 * applied a second time. Dead letters are never pruned here. Deletes in batches of `batchSize`
 * (each its own transaction when `target` is a URL or an autocommit client).
 */
export async function pruneInbox(target: string | PgQueryable, options: PruneInboxOptions): Promise<number> {
  const n = inboxNames(options);
  const { olderThanMs } = options;
  if (typeof olderThanMs !== 'number' || !Number.isFinite(olderThanMs) || olderThanMs < 0) {
    throw new HeraldError(ErrorCodes.CONFIG_INVALID, `option 'olderThanMs' must be a number of milliseconds, 0 or more`, {
      details: { option: 'olderThanMs' },
    });
  }
  const batchSize = options.batchSize ?? 10_000;
  if (!(Number.isInteger(batchSize) && batchSize > 0)) {
    throw new HeraldError(ErrorCodes.CONFIG_INVALID, `option 'batchSize' must be a positive integer`, { details: { option: 'batchSize' } });
  }
  if (options.consumer !== undefined) checkConsumer(options.consumer);
  // SKIP LOCKED: an id a consumer is recording right now is not worth waiting for.
  const sql = `WITH doomed AS (
      SELECT consumer, event_id FROM ${n.inbox}
      WHERE processed_at < now() - $1::float8 * interval '1 millisecond' AND ($2::text IS NULL OR consumer = $2)
      LIMIT $3 FOR UPDATE SKIP LOCKED)
    DELETE FROM ${n.inbox} i USING doomed d WHERE i.consumer = d.consumer AND i.event_id = d.event_id`;
  return withQueryable(target, 'herald-prune-inbox', async (db) => {
    let total = 0;
    for (;;) {
      let deleted: number;
      try {
        const result = (await db.query(sql, [olderThanMs, options.consumer ?? null, batchSize])) as { rowCount: number | null };
        deleted = result.rowCount ?? 0;
      } catch (cause) {
        throw inboxError(cause, `cannot prune the inbox ${n.inbox}`, n);
      }
      total += deleted;
      if (deleted < batchSize) return total;
    }
  });
}

async function withQueryable<T>(target: string | PgQueryable, applicationName: string, fn: (db: PgQueryable) => Promise<T>): Promise<T> {
  if (typeof target !== 'string') {
    if (target === null || typeof target !== 'object' || typeof target.query !== 'function') {
      throw new HeraldError(ErrorCodes.CONFIG_INVALID, 'expected a postgres:// URL or a node-postgres client or pool');
    }
    return fn(target);
  }
  const db = await connectPg(target, applicationName);
  try {
    return await fn(db);
  } finally {
    await db.end().catch(() => undefined);
  }
}

function checkConsumer(consumer: string): void {
  if (typeof consumer !== 'string' || consumer.length === 0) {
    throw new HeraldError(ErrorCodes.CONFIG_INVALID, `the inbox consumer name must be a non-empty string`, {
      details: { option: 'consumer' },
    });
  }
}

function checkEventId(eventId: string): void {
  if (typeof eventId !== 'string' || eventId.length === 0) {
    throw new HeraldError(ErrorCodes.EVENT_INVALID, `the event id given to the inbox must be a non-empty string`, {
      details: { attribute: 'id' },
    });
  }
}

/**
 * Wraps a driver error: a missing inbox table is `NOT_MIGRATED`, a missing privilege
 * `PERMISSION_DENIED`; the rest `DATABASE_ERROR`, retryable when the connection was lost or the
 * transaction lost a serialization race or a deadlock.
 */
export function inboxError(cause: unknown, what: string, names: InboxNames): HeraldError {
  if (cause instanceof HeraldError) return cause;
  const code = (cause as { code?: string }).code;
  if (code === '42P01' || code === '3F000') {
    return new HeraldError(ErrorCodes.NOT_MIGRATED, `${what}: the inbox table ${names.inbox} does not exist; run migrateInbox() first`, {
      cause,
      details: { sqlstate: code },
    });
  }
  if (code === '42501') {
    return new HeraldError(ErrorCodes.PERMISSION_DENIED, `${what}: ${(cause as Error).message}`, { cause, details: { sqlstate: code } });
  }
  return new HeraldError(ErrorCodes.DATABASE_ERROR, `${what}: ${(cause as Error).message}`, {
    cause,
    retryable: code === '40001' || code === '40P01' || isConnectionError(cause),
    details: { sqlstate: code },
  });
}
