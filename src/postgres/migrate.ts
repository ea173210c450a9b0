import { summarizeStatus } from '../store/status.js';
import { HeraldError, ErrorCodes } from '../errors.js';
import { databaseError } from './outbox.js';
import { migrationSql, outboxNames, type PostgresOutboxSchemaOptions } from './schema.js';
import { connectPg } from './connect.js';
import type { StoreMigration, StoreStatus, TopicStatus } from '../store/port.js';
import {
  logicalNames,
  logicalSlotStatus,
  setupLogical,
  type LogicalNamesOptions,
  type LogicalSetup,
  type SlotStatus,
} from './logical-setup.js';

/** Options of {@link migratePostgres}. */
export interface MigrateOptions extends PostgresOutboxSchemaOptions {
  /**
   * Also set up the logical relay: the publication and the permanent replication slot (see
   * `setupLogical`), and turn off the NOTIFY trigger that only polling relays need. Off by
   * default, because an unused slot keeps WAL forever.
   */
  readonly logical?: Omit<LogicalNamesOptions, keyof PostgresOutboxSchemaOptions> & { readonly recreateSlot?: boolean };
}

/** What {@link migratePostgres} did: the common fields and, when asked, the logical relay's setup. */
export interface MigrationResult extends StoreMigration {
  /** What was set up for the logical relay, when asked. */
  readonly logical?: LogicalSetup;
}

/**
 * Creates (or checks) the outbox, dead-letter, lease and relay tables, their indexes and the
 * NOTIFY trigger in one transaction. Idempotent: running it again changes nothing. Refuses to
 * change the bucket count of an existing outbox, because that would reorder keys in flight.
 */
export async function migratePostgres(url: string, options: MigrateOptions = {}): Promise<MigrationResult> {
  const db = await connectPg(url, 'herald-migrate');
  try {
    const schemaName = options.schema ?? 'herald';
    await db.query('BEGIN');
    // Serialise concurrent migrations of the same schema (two deploys starting at once).
    await db.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`herald-migrate:${schemaName}`]);
    const probe = outboxNames(options);
    const existing = await db.query(`SELECT to_regclass($1) AS meta, to_regclass($2) AS outbox`, [
      `${probe.schema}."meta"`,
      `${probe.schema}."outbox"`,
    ]);
    let buckets = options.buckets;
    if (existing.rows[0]?.meta) {
      const { rows } = await db.query(`SELECT value FROM ${probe.meta} WHERE key = 'buckets'`);
      const stored = rows[0] ? Number(rows[0].value) : undefined;
      if (stored !== undefined && buckets !== undefined && stored !== buckets) {
        throw new HeraldError(
          ErrorCodes.CONFIG_INVALID,
          `the outbox in schema '${schemaName}' has ${stored} buckets; the bucket count cannot change (got --buckets ${buckets})`,
          { details: { option: 'buckets' } },
        );
      }
      buckets = stored ?? buckets;
    }
    const names = outboxNames({ ...options, ...(buckets === undefined ? {} : { buckets }) });
    for (const statement of migrationSql(names)) await db.query(statement);
    // The NOTIFY only wakes polling relays. With the logical relay it would cost every append a
    // notification and every commit PostgreSQL's global notify lock, for nothing.
    await db.query(`ALTER TABLE ${names.outbox} ${options.logical ? 'DISABLE' : 'ENABLE'} TRIGGER outbox_notify`);
    await db.query('COMMIT');
    const result = { schema: schemaName, buckets: names.buckets, created: existing.rows[0]?.outbox === null };
    if (!options.logical) return result;
    const logical = await setupLogical(url, names, logicalNames({ ...options, ...options.logical }), options.logical);
    return { ...result, logical };
  } catch (err) {
    await db.query('ROLLBACK').catch(() => undefined);
    throw err instanceof HeraldError ? err : databaseError(err, 'cannot migrate the outbox');
  } finally {
    await db.end().catch(() => undefined);
  }
}

export type { TopicStatus };

/** The state of a PostgreSQL outbox, as `herald status` shows it: the common fields and the slot. */
export interface OutboxStatus extends StoreStatus {
  /** The logical relay's slot, when one exists with the configured (or default) name. */
  readonly slot?: SlotStatus;
}

/** Reads pending counts, ages and dead letters per topic, and the number of live relays. */
export async function postgresOutboxStatus(url: string, options: LogicalNamesOptions = {}): Promise<OutboxStatus> {
  const n = outboxNames(options);
  const db = await connectPg(url, 'herald-status');
  try {
    // One connection runs one query at a time; these three are cheap, so run them in turn.
    const pending = await db.query(`SELECT topic, count(*)::int AS pending, count(*) FILTER (WHERE retry_at IS NOT NULL)::int AS retrying,
          extract(epoch FROM now() - min(created_at))::float8 AS oldest FROM ${n.outbox} GROUP BY topic`);
    const dead = await db.query(`SELECT topic, count(*)::int AS dead FROM ${n.deadLetter} GROUP BY topic`);
    const relays = await db.query(`SELECT count(*)::int AS live FROM ${n.relays} WHERE seen_at > now() - interval '1 minute'`);
    const slot = await logicalSlotStatus(db, n, logicalNames(options).slot);
    return {
      ...summarizeStatus(pending.rows, dead.rows, relays.rows[0].live),
      ...(slot.exists ? { slot } : {}),
    };
  } catch (err) {
    throw databaseError(err, 'cannot read the outbox status');
  } finally {
    await db.end().catch(() => undefined);
  }
}
