import { summarizeStatus, type DeadByTopic, type PendingByTopic } from '../store/status.js';
import { HeraldError, ErrorCodes } from '../errors.js';
import type { StoreMigration, StoreStatus, TopicStatus } from '../store/port.js';
import { connectMysql, mysqlDatabaseError } from './connect.js';
import { mysqlMigrationSql, mysqlNames, NOW, type MysqlOutboxSchemaOptions } from './schema.js';
import { checkServerVersion } from './version.js';

/** How long a `herald migrate` waits for another one running on the same database, in seconds. */
const MIGRATE_LOCK_TIMEOUT_S = 60;

/**
 * Creates (or checks) the outbox, dead-letter, lease, relay, meta and key-lock tables in the
 * `schema` database. Idempotent: running it again changes nothing and reports `created: false`.
 * Refuses a server older than MySQL 8.0.1 / MariaDB 10.6 (naming its version) and refuses to
 * change the bucket count of an existing outbox, because that would reorder keys in flight.
 * Concurrent runs are serialised with `GET_LOCK` (a session lock, released in `finally`: MySQL
 * commits each DDL statement on its own, so a transaction could not serialise them).
 */
export async function migrateMysql(url: string, options: MysqlOutboxSchemaOptions = {}): Promise<StoreMigration> {
  const probe = mysqlNames(options);
  const db = await connectMysql(url);
  const lockName = `herald-migrate:${probe.schemaName}`;
  let locked = false;
  try {
    const [[version]] = (await db.query('SELECT VERSION() AS v')) as unknown as [[{ v: string }]];
    checkServerVersion(version.v);
    const [[lock]] = (await db.query('SELECT GET_LOCK(?, ?) AS got', [lockName, MIGRATE_LOCK_TIMEOUT_S])) as unknown as [[{ got: number }]];
    if (Number(lock.got) !== 1) {
      throw new HeraldError(
        ErrorCodes.DATABASE_ERROR,
        `cannot migrate the outbox: another migration of '${probe.schemaName}' is still running`,
        {
          retryable: true,
        },
      );
    }
    locked = true;
    const [tables] = (await db.query(
      `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = ? AND table_name IN ('meta', 'outbox')`,
      [probe.schemaName],
    )) as unknown as [{ name: string }[]];
    const names = new Set(tables.map((t) => t.name));
    let buckets = options.buckets;
    if (names.has('meta')) {
      const [rows] = (await db.query(`SELECT value FROM ${probe.meta} WHERE \`key\` = 'buckets'`)) as unknown as [{ value: string }[]];
      const stored = rows[0] ? Number(rows[0].value) : undefined;
      if (stored !== undefined && buckets !== undefined && stored !== buckets) {
        throw new HeraldError(
          ErrorCodes.CONFIG_INVALID,
          `the outbox in database '${probe.schemaName}' has ${stored} buckets; the bucket count cannot change (got --buckets ${buckets})`,
          { details: { option: 'buckets' } },
        );
      }
      buckets = stored ?? buckets;
    }
    const n = mysqlNames({ ...options, ...(buckets === undefined ? {} : { buckets }) });
    for (const statement of mysqlMigrationSql(n)) await db.query(statement);
    // Lease epochs (fencing), added to existing installations: MySQL 8.0 has no ADD COLUMN IF NOT EXISTS.
    const [epoch] = (await db.query(
      `SELECT 1 FROM information_schema.columns WHERE table_schema = ? AND table_name = 'relay_lease' AND column_name = 'epoch'`,
      [n.schemaName],
    )) as unknown as [unknown[]];
    if (epoch.length === 0) await db.query(`ALTER TABLE ${n.lease} ADD COLUMN epoch BIGINT NOT NULL DEFAULT 0`);
    return { schema: n.schemaName, buckets: n.buckets, created: !names.has('outbox') };
  } catch (err) {
    throw mysqlDatabaseError(err, 'cannot migrate the outbox');
  } finally {
    if (locked) await db.query('SELECT RELEASE_LOCK(?)', [lockName]).catch(() => undefined);
    await db.end().catch(() => db.destroy());
  }
}

export type { TopicStatus };

/** Reads pending counts, ages and dead letters per topic, and the number of live relays. */
export async function mysqlOutboxStatus(url: string, options: MysqlOutboxSchemaOptions = {}): Promise<StoreStatus> {
  const n = mysqlNames(options);
  const db = await connectMysql(url);
  try {
    const [pending] = (await db.query(
      `SELECT topic, COUNT(*) AS pending, SUM(retry_at IS NOT NULL) AS retrying,
          TIMESTAMPDIFF(MICROSECOND, MIN(created_at), ${NOW}) / 1e6 AS oldest FROM ${n.outbox} GROUP BY topic`,
    )) as unknown as [PendingByTopic[]];
    const [dead] = (await db.query(`SELECT topic, COUNT(*) AS dead FROM ${n.deadLetter} GROUP BY topic`)) as unknown as [DeadByTopic[]];
    const [[relays]] = (await db.query(
      `SELECT COUNT(*) AS live FROM ${n.relays} WHERE seen_at > ${NOW} - INTERVAL 1 MINUTE`,
    )) as unknown as [[{ live: unknown }]];
    return summarizeStatus(pending, dead, relays.live);
  } catch (err) {
    throw mysqlDatabaseError(err, 'cannot read the outbox status');
  } finally {
    await db.end().catch(() => db.destroy());
  }
}
