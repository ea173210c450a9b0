import { HeraldError, ErrorCodes } from '../errors.js';
import { checkIdentifier } from '../store/identifiers.js';

/** Options that shape the MySQL outbox tables. Defaults are in {@link mysqlOutboxDefaults}. */
export interface MysqlOutboxSchemaOptions {
  /** Database (MySQL's schema) that holds Herald's tables. Default `herald`. */
  readonly schema?: string;
  /** Ordering buckets, fixed at the first migrate. Default 32. */
  readonly buckets?: number;
}

/** The defaults of {@link MysqlOutboxSchemaOptions}, in one table. */
export const mysqlOutboxDefaults = { schema: 'herald', buckets: 32 } as const;

/**
 * Hash slots of the per-key append lock (`key_lock` rows). Many more than buckets, so that two
 * unrelated keys rarely share a slot (sharing only makes them wait, never reorders them).
 */
export const KEY_LOCK_SLOTS = 4096;

/** Bumped when the table layout changes; recorded in the meta table. */
export const MYSQL_SCHEMA_VERSION = 1;

/** Resolved, backtick-quoted names of the outbox tables in one database. */
export interface MysqlNames {
  /** The unquoted database name. */
  readonly schemaName: string;
  readonly schema: string;
  readonly outbox: string;
  readonly deadLetter: string;
  readonly lease: string;
  readonly relays: string;
  readonly meta: string;
  readonly keyLock: string;
  readonly buckets: number;
}

/** Validates the options once (naming the option) and derives every quoted name from them. */
export function mysqlNames(options: MysqlOutboxSchemaOptions = {}): MysqlNames {
  const schemaName = checkIdentifier(options.schema ?? mysqlOutboxDefaults.schema, 'schema');
  const buckets = options.buckets ?? mysqlOutboxDefaults.buckets;
  if (!Number.isInteger(buckets) || buckets < 1 || buckets > 1024) {
    throw new HeraldError(ErrorCodes.CONFIG_INVALID, `option 'buckets' must be an integer from 1 to 1024, got ${String(buckets)}`, {
      details: { option: 'buckets' },
    });
  }
  // checkIdentifier allows only [a-z0-9_], so a backtick can never appear inside the quotes.
  const schema = `\`${schemaName}\``;
  return {
    schemaName,
    schema,
    outbox: `${schema}.\`outbox\``,
    deadLetter: `${schema}.\`dead_letter\``,
    lease: `${schema}.\`relay_lease\``,
    relays: `${schema}.\`relay_instance\``,
    meta: `${schema}.\`meta\``,
    keyLock: `${schema}.\`key_lock\``,
    buckets,
  };
}

/** The SQL expression of "now" every Herald statement uses: UTC, so session time zones never matter. */
export const NOW = 'UTC_TIMESTAMP(6)';

/** The event's columns as both the outbox and the dead-letter table hold them. */
const EVENT_COLUMNS = `event_id CHAR(36) NOT NULL, topic VARCHAR(255) NOT NULL, partition_key VARCHAR(255) NOT NULL,
      type VARCHAR(255) NOT NULL, source VARCHAR(255) NOT NULL, subject VARCHAR(255) NULL,
      time VARCHAR(40) NOT NULL, dataschema VARCHAR(255) NULL, traceparent VARCHAR(64) NULL, data JSON NOT NULL`;

const TABLE_OPTIONS = 'ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin';

/**
 * The idempotent DDL of the MySQL outbox: every statement can run again on an existing
 * installation without changing it. MySQL commits DDL implicitly, so `migrateMysql` serialises
 * runs with `GET_LOCK` instead of a transaction.
 */
export function mysqlMigrationSql(n: MysqlNames): string[] {
  return [
    `CREATE DATABASE IF NOT EXISTS ${n.schema} DEFAULT CHARACTER SET utf8mb4`,
    `CREATE TABLE IF NOT EXISTS ${n.meta} (\`key\` VARCHAR(64) NOT NULL PRIMARY KEY, value VARCHAR(255) NOT NULL) ${TABLE_OPTIONS}`,
    `INSERT IGNORE INTO ${n.meta} (\`key\`, value) VALUES ('buckets', '${n.buckets}')`,
    `INSERT INTO ${n.meta} (\`key\`, value) VALUES ('schema_version', '${MYSQL_SCHEMA_VERSION}') ON DUPLICATE KEY UPDATE value = VALUES(value)`,
    // `time` is the RFC 3339 text as written: the relay hands back exactly what the writer made.
    // `bucket` is computed by the server so that every writer, in any language, agrees on it.
    `CREATE TABLE IF NOT EXISTS ${n.outbox} (
      id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
      ${EVENT_COLUMNS},
      bucket SMALLINT AS (CRC32(partition_key) % ${n.buckets}) STORED,
      created_at DATETIME(6) NOT NULL DEFAULT (${NOW}),
      attempts INT NOT NULL DEFAULT 0,
      retry_at DATETIME(6) NULL,
      last_error TEXT NULL,
      KEY outbox_retry (retry_at)
    ) ${TABLE_OPTIONS}`,
    `CREATE TABLE IF NOT EXISTS ${n.deadLetter} (
      id BIGINT NOT NULL PRIMARY KEY,
      ${EVENT_COLUMNS},
      created_at DATETIME(6) NOT NULL,
      attempts INT NOT NULL,
      last_error TEXT NOT NULL,
      failed_at DATETIME(6) NOT NULL DEFAULT (${NOW}),
      KEY dead_letter_event (event_id)
    ) ${TABLE_OPTIONS}`,
    `CREATE TABLE IF NOT EXISTS ${n.lease} (bucket SMALLINT NOT NULL PRIMARY KEY, owner CHAR(36) NULL, expires_at DATETIME(6) NULL) ${TABLE_OPTIONS}`,
    `INSERT IGNORE INTO ${n.lease} (bucket) VALUES ${Array.from({ length: n.buckets }, (_, b) => `(${b})`).join(', ')}`,
    `CREATE TABLE IF NOT EXISTS ${n.relays} (
      id CHAR(36) NOT NULL PRIMARY KEY, host VARCHAR(255) NOT NULL, pid INT NOT NULL,
      started_at DATETIME(6) NOT NULL, seen_at DATETIME(6) NOT NULL
    ) ${TABLE_OPTIONS}`,
    // One row per hash slot, all created here: the append locks existing rows only, so it never
    // inserts into this table (inserting would take gap locks and could deadlock).
    `CREATE TABLE IF NOT EXISTS ${n.keyLock} (slot SMALLINT NOT NULL PRIMARY KEY, n BIGINT NOT NULL DEFAULT 0) ${TABLE_OPTIONS}`,
    `INSERT IGNORE INTO ${n.keyLock} (slot) VALUES ${Array.from({ length: KEY_LOCK_SLOTS }, (_, s) => `(${s})`).join(',')}`,
  ];
}
