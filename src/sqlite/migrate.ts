import { summarizeStatus } from '../store/status.js';
import { HeraldError, ErrorCodes } from '../errors.js';
import type { StoreMigration, StoreStatus } from '../store/port.js';
import type { SqliteLocation } from './connect.js';
import { NOW_MS, sqliteMigrationSql, sqliteNames, type SqliteOutboxSchemaOptions } from './schema.js';
import { SqliteSession } from './session.js';
import { checkSqliteVersion } from './version.js';

/**
 * Creates (or checks) the outbox, dead-letter, lease, relay and meta tables in the file (which it
 * creates when missing). Idempotent: running it again changes nothing and reports
 * `created: false`. Sets `journal_mode=WAL` (kept in the file): readers — the relay's SELECTs,
 * `herald status` — then never block the service's writer, nor it them. Refuses an SQLite
 * library older than 3.35 (naming its version), and refuses to change the bucket count of an
 * existing outbox, because that would reorder keys in flight. The DDL runs in one
 * `BEGIN IMMEDIATE` transaction, so concurrent migrations take turns.
 */
export async function migrateSqlite(location: SqliteLocation, options: SqliteOutboxSchemaOptions = {}): Promise<StoreMigration> {
  const probe = sqliteNames(options);
  const session = new SqliteSession(location, { mustExist: false });
  try {
    const version = await session.read('cannot migrate the outbox', (db) => {
      const v = (db.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v;
      checkSqliteVersion(v);
      // WAL cannot be switched on inside a transaction; it is a no-op when already on.
      const mode = String(db.pragma('journal_mode = WAL', { simple: true }));
      if (mode.toLowerCase() !== 'wal') {
        throw new HeraldError(
          ErrorCodes.DATABASE_ERROR,
          `cannot switch '${location.file}' to journal_mode=WAL (it stays '${mode}'); WAL needs a local file system, not a network share`,
        );
      }
      return v;
    });
    return await session.write('cannot migrate the outbox', (db) => {
      const exists = (table: string): boolean =>
        db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`).get(`${probe.prefix}_${table}`) !== undefined;
      const created = !exists('outbox');
      let buckets = options.buckets;
      if (exists('meta')) {
        const row = db.prepare(`SELECT value FROM ${probe.meta} WHERE key = 'buckets'`).get() as { value: string } | undefined;
        const stored = row ? Number(row.value) : undefined;
        if (stored !== undefined && buckets !== undefined && stored !== buckets) {
          throw new HeraldError(
            ErrorCodes.CONFIG_INVALID,
            `the outbox in '${location.file}' has ${stored} buckets; the bucket count cannot change (got --buckets ${buckets})`,
            { details: { option: 'buckets' } },
          );
        }
        buckets = stored ?? buckets;
      }
      const n = sqliteNames({ ...options, ...(buckets === undefined ? {} : { buckets }) });
      for (const statement of sqliteMigrationSql(n)) db.exec(statement);
      // Lease epochs (fencing), added to files migrated before them; SQLite has no ADD COLUMN IF NOT EXISTS.
      const leaseColumns = db.prepare(`SELECT name FROM pragma_table_info(?)`).all(`${n.prefix}_relay_lease`) as { name: string }[];
      if (!leaseColumns.some((c) => c.name === 'epoch')) db.exec(`ALTER TABLE ${n.lease} ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0`);
      return { schema: location.file, buckets: n.buckets, created, sqliteVersion: version };
    });
  } finally {
    session.close();
  }
}

/** Reads pending counts, ages and dead letters per topic, and the number of live relays (seen in the last minute). */
export async function sqliteOutboxStatus(location: SqliteLocation, options: SqliteOutboxSchemaOptions = {}): Promise<StoreStatus> {
  const n = sqliteNames(options);
  const session = new SqliteSession(location);
  try {
    return await session.read('cannot read the outbox status', (db) => {
      // One read transaction, so the counts agree with each other (WAL: it never blocks a writer).
      return db.transaction(() => {
        const pending = db
          .prepare(
            `SELECT topic, COUNT(*) AS pending, SUM(retry_at IS NOT NULL) AS retrying,
                MAX(0, ${NOW_MS} - MIN(created_at)) / 1000.0 AS oldest FROM ${n.outbox} GROUP BY topic`,
          )
          .all() as { topic: string; pending: number; retrying: number; oldest: number | null }[];
        const dead = db.prepare(`SELECT topic, COUNT(*) AS dead FROM ${n.deadLetter} GROUP BY topic`).all() as {
          topic: string;
          dead: number;
        }[];
        const relays = db.prepare(`SELECT COUNT(*) AS live FROM ${n.relays} WHERE seen_at > ${NOW_MS} - 60000`).get() as { live: number };
        return summarizeStatus(pending, dead, relays.live);
      })();
    });
  } finally {
    session.close();
  }
}
