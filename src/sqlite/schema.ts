import { HeraldError, ErrorCodes } from '../errors.js';
import { checkIdentifier } from '../store/identifiers.js';

/** Options that shape the SQLite outbox tables. Defaults are in {@link sqliteOutboxDefaults}. */
export interface SqliteOutboxSchemaOptions {
  /**
   * Prefix of Herald's table names (`herald` gives `herald_outbox`, `herald_dead_letter`, …).
   * SQLite has no schemas inside one file, and the file is the service's own, so Herald's tables
   * carry a prefix where PostgreSQL and MySQL use a schema. Default `herald`.
   */
  readonly schema?: string;
  /** Ordering buckets, fixed at the first migrate. Default 32. */
  readonly buckets?: number;
}

/** The defaults of {@link SqliteOutboxSchemaOptions}, in one table. */
export const sqliteOutboxDefaults = { schema: 'herald', buckets: 32 } as const;

/** Bumped when the table layout changes; recorded in the meta table. */
export const SQLITE_SCHEMA_VERSION = 1;

/** Resolved, double-quoted names of the outbox tables in one file. */
export interface SqliteNames {
  /** The unquoted prefix. */
  readonly prefix: string;
  readonly outbox: string;
  readonly deadLetter: string;
  readonly lease: string;
  readonly relays: string;
  readonly meta: string;
  readonly buckets: number;
}

/** Validates the options once (naming the option) and derives every quoted name from them. */
export function sqliteNames(options: SqliteOutboxSchemaOptions = {}): SqliteNames {
  const prefix = checkIdentifier(options.schema ?? sqliteOutboxDefaults.schema, 'schema');
  const buckets = options.buckets ?? sqliteOutboxDefaults.buckets;
  if (!Number.isInteger(buckets) || buckets < 1 || buckets > 1024) {
    throw new HeraldError(ErrorCodes.CONFIG_INVALID, `option 'buckets' must be an integer from 1 to 1024, got ${String(buckets)}`, {
      details: { option: 'buckets' },
    });
  }
  // checkIdentifier allows only [a-z0-9_], so a quote can never appear inside the quotes.
  const name = (table: string): string => `"${prefix}_${table}"`;
  return {
    prefix,
    outbox: name('outbox'),
    deadLetter: name('dead_letter'),
    lease: name('relay_lease'),
    relays: name('relay_instance'),
    meta: name('meta'),
    buckets,
  };
}

/**
 * "Now" in milliseconds since the epoch, as every Herald statement computes it: from SQLite's
 * clock, so every writer (in any language) and every relay agree. `julianday` works on every
 * SQLite Herald supports (`unixepoch('subsec')` needs 3.42).
 */
export const NOW_MS = "CAST(ROUND((julianday('now') - 2440587.5) * 86400000) AS INTEGER)";

/**
 * The bucket of a partition key, as a SQL expression over built-in functions only, so that the
 * generated column gives the same answer to every writer: Herald, the sqlite3 shell, another
 * language (a custom function would make the outbox unwritable without it). It mixes the length
 * and the code points of the first 4 and last 8 characters; keys that share a bucket only share
 * a relay, they are never reordered.
 */
export function bucketExpression(buckets: number): string {
  const at = (start: number): string => `coalesce(unicode(substr(partition_key, ${start}, 1)), 0)`;
  const terms = [
    'length(partition_key)',
    ...[1, 2, 3, 4].map((i) => `${at(i)} * ${7 ** i}`),
    ...[1, 2, 3, 4, 5, 6, 7, 8].map((i) => `${at(-i)} * ${17 ** i}`),
  ];
  return `((${terms.join(' + ')}) % ${buckets})`;
}

/** The event's columns as both the outbox and the dead-letter table hold them; `data` is the JSON text. */
const EVENT_COLUMNS = `event_id TEXT NOT NULL, topic TEXT NOT NULL, partition_key TEXT NOT NULL,
      type TEXT NOT NULL, source TEXT NOT NULL, subject TEXT NULL,
      time TEXT NOT NULL, dataschema TEXT NULL, traceparent TEXT NULL, data TEXT NOT NULL`;

/**
 * The idempotent DDL of the SQLite outbox. SQLite's DDL is transactional, so `migrateSqlite`
 * runs all of it in one `BEGIN IMMEDIATE` transaction: concurrent migrations take turns.
 */
export function sqliteMigrationSql(n: SqliteNames): string[] {
  return [
    `CREATE TABLE IF NOT EXISTS ${n.meta} (key TEXT NOT NULL PRIMARY KEY, value TEXT NOT NULL)`,
    `INSERT OR IGNORE INTO ${n.meta} (key, value) VALUES ('buckets', '${n.buckets}')`,
    `INSERT INTO ${n.meta} (key, value) VALUES ('schema_version', '${SQLITE_SCHEMA_VERSION}') ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
    // AUTOINCREMENT: ids are never reused after the rows are deleted, so a relay's position and a
    // dead letter's id always name one event. `time` is the RFC 3339 text as written.
    `CREATE TABLE IF NOT EXISTS ${n.outbox} (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      ${EVENT_COLUMNS},
      bucket INTEGER GENERATED ALWAYS AS ${bucketExpression(n.buckets)} STORED,
      created_at INTEGER NOT NULL DEFAULT (${NOW_MS}),
      attempts INTEGER NOT NULL DEFAULT 0,
      retry_at INTEGER NULL,
      last_error TEXT NULL
    )`,
    `CREATE INDEX IF NOT EXISTS "${n.prefix}_outbox_bucket" ON ${n.outbox} (bucket, id)`,
    `CREATE INDEX IF NOT EXISTS "${n.prefix}_outbox_retry" ON ${n.outbox} (retry_at) WHERE retry_at IS NOT NULL`,
    `CREATE TABLE IF NOT EXISTS ${n.deadLetter} (
      id INTEGER NOT NULL PRIMARY KEY,
      ${EVENT_COLUMNS},
      created_at INTEGER NOT NULL,
      attempts INTEGER NOT NULL,
      last_error TEXT NOT NULL,
      failed_at INTEGER NOT NULL DEFAULT (${NOW_MS})
    )`,
    `CREATE INDEX IF NOT EXISTS "${n.prefix}_dead_letter_event" ON ${n.deadLetter} (event_id)`,
    // `epoch` counts the bucket's changes of owner: deliveries are recorded only under the epoch
    // they were read with (fencing). Files from before it get the column in `migrateSqlite`.
    `CREATE TABLE IF NOT EXISTS ${n.lease} (bucket INTEGER NOT NULL PRIMARY KEY, owner TEXT NULL, expires_at INTEGER NULL, epoch INTEGER NOT NULL DEFAULT 0)`,
    `INSERT OR IGNORE INTO ${n.lease} (bucket) VALUES ${Array.from({ length: n.buckets }, (_, b) => `(${b})`).join(', ')}`,
    `CREATE TABLE IF NOT EXISTS ${n.relays} (
      id TEXT NOT NULL PRIMARY KEY, host TEXT NOT NULL, pid INTEGER NOT NULL,
      started_at INTEGER NOT NULL, seen_at INTEGER NOT NULL
    )`,
  ];
}
