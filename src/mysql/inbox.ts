/**
 * The MySQL/MariaDB inbox: the event ids a consumer has applied, keyed by `(consumer, event_id)`,
 * and the consumer dead-letter table, in the service's own database. Same contract as the
 * PostgreSQL inbox (`src/postgres/inbox.ts`): recording the id and applying the event in one
 * transaction makes the effect exactly once.
 */
import { HeraldError, ErrorCodes } from '../errors.js';
import type { InboxDeadLetter, InboxOptions, InboxOutcome } from '../postgres/inbox.js';
import { executorFor } from '../store/executor-for.js';
import { checkIdentifier } from '../store/identifiers.js';
import type { SqlExecutor } from '../store/sql-executor.js';
import { connectMysql, mysqlDatabaseError } from './connect.js';
import { checkInTransaction } from './outbox.js';
import { NOW, mysqlOutboxDefaults } from './schema.js';

/** Longest consumer name and event id the inbox keys hold (both fit InnoDB's 3072-byte key in utf8mb4). */
export const MYSQL_INBOX_LIMITS = { consumer: 190, eventId: 512 } as const;

/** Validated, backtick-quoted names of the MySQL inbox tables. */
export interface MysqlInboxNames {
  readonly schemaName: string;
  /** The unquoted inbox table name. */
  readonly table: string;
  readonly schema: string;
  readonly inbox: string;
  readonly deadLetter: string;
}

/** Validates the options (`CONFIG_INVALID` naming the option); the schema is the MySQL database, default `herald`. */
export function mysqlInboxNames(options: InboxOptions = {}): MysqlInboxNames {
  const schemaName = checkIdentifier(options.schema ?? mysqlOutboxDefaults.schema, 'schema');
  const table = checkIdentifier(options.table ?? 'inbox', 'table');
  const deadLetterTable = checkIdentifier(options.deadLetterTable ?? 'inbox_dead_letter', 'deadLetterTable');
  if (table === deadLetterTable) {
    throw new HeraldError(ErrorCodes.CONFIG_INVALID, `options 'table' and 'deadLetterTable' must differ, both are '${table}'`, {
      details: { option: 'deadLetterTable' },
    });
  }
  // checkIdentifier allows only [a-z0-9_], so a backtick can never appear inside the quotes.
  const schema = `\`${schemaName}\``;
  return { schemaName, table, schema, inbox: `${schema}.\`${table}\``, deadLetter: `${schema}.\`${deadLetterTable}\`` };
}

/**
 * The MySQL inbox. Every method works inside the caller's transaction (a mysql2 connection after
 * `beginTransaction()`, or a data layer's transaction) and never begins, commits or rolls back;
 * a pool, or a connection in autocommit, is refused with `TRANSACTION_REQUIRED` before the id is
 * recorded. A second transaction processing the same id waits on the primary key for the first,
 * then skips it if the first committed or applies it if the first rolled back.
 */
export class MysqlInbox {
  readonly names: MysqlInboxNames;

  constructor(options: InboxOptions = {}) {
    this.names = mysqlInboxNames(options);
  }

  /**
   * Records `eventId` for `consumer` in `tx` and, only when it was new, runs `apply` (which
   * should write through the same `tx`). If `apply` throws, the error passes unchanged and the
   * caller's ROLLBACK removes the inbox row with the handler's writes.
   */
  async processOnce<T>(tx: unknown, consumer: string, eventId: string, apply: () => Promise<T>): Promise<InboxOutcome<T>> {
    const executor = executorFor(tx, 'mysql');
    checkKey(consumer, eventId);
    const what = `cannot record event ${eventId} in the inbox of consumer '${consumer}'`;
    await this.#requireTransaction(executor, what);
    let inserted: boolean;
    try {
      // IGNORE turns only the duplicate key into "0 rows"; the lengths are checked above, so no
      // value can be truncated into another consumer's or event's key.
      const r = await executor.query(`INSERT IGNORE INTO ${this.names.inbox} (consumer, event_id) VALUES (?, ?)`, [consumer, eventId]);
      inserted = r.affectedRows === 1;
    } catch (cause) {
      throw mysqlInboxError(cause, what, this.names);
    }
    if (!inserted) return { applied: false };
    return { applied: true, value: await apply() };
  }

  /** Records, inside `tx`, a dead letter and its id in the inbox; false (nothing written) when the id is already there. */
  async deadLetter(tx: unknown, consumer: string, letter: InboxDeadLetter): Promise<boolean> {
    const executor = executorFor(tx, 'mysql');
    const outcome = await this.processOnce(tx, consumer, letter.eventId, async () => {
      try {
        await executor.query(
          `INSERT INTO ${this.names.deadLetter} (consumer, event_id, topic, position, event_type, dataschema, reason, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
          [consumer, letter.eventId, letter.topic, letter.position, letter.eventType, letter.dataschema, letter.reason, letter.data],
        );
      } catch (cause) {
        throw mysqlInboxError(cause, `cannot dead-letter event ${letter.eventId} of consumer '${consumer}'`, this.names);
      }
    });
    return outcome.applied;
  }

  /** mysql2 knows from its last packet; other layers prove it with a no-op UPDATE's OK packet. */
  async #requireTransaction(executor: SqlExecutor, what: string): Promise<void> {
    if (executor.inTransactionNow?.() === true || executor.inTransaction === true) return;
    try {
      checkInTransaction(executor, await executor.query(`UPDATE ${this.names.inbox} SET consumer = consumer WHERE 1 = 0`, []));
    } catch (cause) {
      throw mysqlInboxError(cause, what, this.names);
    }
  }
}

/**
 * Creates (or checks) the inbox and consumer dead-letter tables in the database `options.schema`
 * (created when missing). Idempotent; MySQL commits DDL implicitly, and `IF NOT EXISTS` makes
 * concurrent runs harmless.
 */
export async function migrateMysqlInbox(url: string, options: InboxOptions = {}): Promise<{ schema: string; created: boolean }> {
  const n = mysqlInboxNames(options);
  const db = await connectMysql(url);
  try {
    const [exists] = (await db.query(`SELECT 1 FROM information_schema.tables WHERE table_schema = ? AND table_name = ?`, [
      n.schemaName,
      n.table,
    ])) as unknown as [unknown[]];
    const tableOptions = 'ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin';
    await db.query(`CREATE DATABASE IF NOT EXISTS ${n.schema} DEFAULT CHARACTER SET utf8mb4`);
    await db.query(`CREATE TABLE IF NOT EXISTS ${n.inbox} (
      consumer VARCHAR(${MYSQL_INBOX_LIMITS.consumer}) NOT NULL, event_id VARCHAR(${MYSQL_INBOX_LIMITS.eventId}) NOT NULL,
      processed_at DATETIME(6) NOT NULL DEFAULT (${NOW}),
      PRIMARY KEY (consumer, event_id), KEY inbox_processed_at (processed_at)) ${tableOptions}`);
    await db.query(`CREATE TABLE IF NOT EXISTS ${n.deadLetter} (
      consumer VARCHAR(${MYSQL_INBOX_LIMITS.consumer}) NOT NULL, event_id VARCHAR(${MYSQL_INBOX_LIMITS.eventId}) NOT NULL,
      topic VARCHAR(255) NOT NULL, position VARCHAR(255) NOT NULL, event_type VARCHAR(255) NULL, dataschema VARCHAR(255) NULL,
      reason TEXT NOT NULL, data LONGTEXT NULL, failed_at DATETIME(6) NOT NULL DEFAULT (${NOW}),
      PRIMARY KEY (consumer, event_id)) ${tableOptions}`);
    return { schema: n.schemaName, created: exists.length === 0 };
  } catch (err) {
    throw mysqlInboxError(err, `cannot migrate the inbox in database '${n.schemaName}'`, n);
  } finally {
    await db.end().catch(() => db.destroy());
  }
}

function checkKey(consumer: string, eventId: string): void {
  if (typeof consumer !== 'string' || consumer.length === 0 || consumer.length > MYSQL_INBOX_LIMITS.consumer) {
    throw new HeraldError(
      ErrorCodes.CONFIG_INVALID,
      `the inbox consumer name must be a string of 1 to ${MYSQL_INBOX_LIMITS.consumer} characters`,
      {
        details: { option: 'consumer' },
      },
    );
  }
  if (typeof eventId !== 'string' || eventId.length === 0 || eventId.length > MYSQL_INBOX_LIMITS.eventId) {
    throw new HeraldError(
      ErrorCodes.EVENT_INVALID,
      `the event id given to the inbox must be a string of 1 to ${MYSQL_INBOX_LIMITS.eventId} characters`,
      {
        details: { attribute: 'id' },
      },
    );
  }
}

/** Wraps a driver error: a missing inbox table is `NOT_MIGRATED` saying what creates it; the rest as the store's other errors. */
export function mysqlInboxError(cause: unknown, what: string, names: MysqlInboxNames): HeraldError {
  const code = (cause as { code?: string }).code;
  if (code === 'ER_NO_SUCH_TABLE' || code === 'ER_BAD_DB_ERROR') {
    return new HeraldError(
      ErrorCodes.NOT_MIGRATED,
      `${what}: the inbox table ${names.inbox} does not exist; run 'herald consume' (which creates it) or migrateMysqlInbox() first`,
      {
        cause,
      },
    );
  }
  return mysqlDatabaseError(cause, what);
}
