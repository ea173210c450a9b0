import { summarizeStatus } from '../store/status.js';
import { HeraldError, ErrorCodes } from '../errors.js';
import { databaseError } from './outbox.js';
import {
  migrationSql,
  notifyInEffectSql,
  notifyTriggerSql,
  outboxNames,
  NOTIFY_META_KEY,
  NOTIFY_TRIGGER,
  type OutboxNames,
  type PostgresOutboxSchemaOptions,
} from './schema.js';
import { connectPg, type PgClient } from './connect.js';
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
  /**
   * Whether the outbox has the NOTIFY trigger that wakes polling relays at commit. `true` creates
   * it, `false` drops it (polling relays then find new events by their fast idle poll, and
   * commits no longer take PostgreSQL's global notify lock). Left out, migrate keeps what the
   * outbox has (recorded in its meta table); a new outbox gets the trigger, except with
   * `logical`, which needs none and turns it off unless `notify: true` is given.
   */
  readonly notify?: boolean;
}

/** What {@link migratePostgres} did: the common fields and, when asked, the logical relay's setup. */
export interface MigrationResult extends StoreMigration {
  /** What was set up for the logical relay, when asked. */
  readonly logical?: LogicalSetup;
  /** PostgreSQL: whether the outbox now has its NOTIFY trigger (see {@link MigrateOptions.notify}). */
  readonly notify?: boolean;
}

/**
 * Creates (or checks) the outbox, dead-letter, lease and relay tables, their indexes and, unless
 * turned off, the NOTIFY trigger in one transaction. Idempotent: running it again with the same
 * options changes nothing, and without `notify` it keeps the trigger as it is. Refuses to change
 * the bucket count of an existing outbox, because that would reorder keys in flight.
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
    const recorded = existing.rows[0]?.meta ? await recordedNotify(db, names) : undefined;
    for (const statement of migrationSql(names)) await db.query(statement);
    // The NOTIFY only wakes polling relays. With the logical relay it would cost every append a
    // notification and every commit PostgreSQL's global notify lock, for nothing.
    const notify = options.notify ?? (options.logical ? false : (recorded ?? true));
    await applyNotify(db, names, notify);
    await db.query('COMMIT');
    const result = { schema: schemaName, buckets: names.buckets, created: existing.rows[0]?.outbox === null, notify };
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

/**
 * The wake mode an existing outbox has: its meta row, or, for an outbox migrated before the row
 * existed, whether its trigger is in effect (older `--source logical` migrations disabled it).
 */
async function recordedNotify(db: PgClient, n: OutboxNames): Promise<boolean | undefined> {
  const { rows } = await db.query(`SELECT value FROM ${n.meta} WHERE key = $1`, [NOTIFY_META_KEY]);
  if (rows[0]) return rows[0].value === 'on';
  const outbox = await db.query('SELECT to_regclass($1) AS outbox', [n.outbox]);
  if (outbox.rows[0]?.outbox === null) return undefined;
  return (await db.query(notifyInEffectSql(n))).rows[0]?.notify === true;
}

/**
 * Creates or drops the NOTIFY trigger and records the choice. The trigger is touched only when
 * it must change: `DROP TRIGGER` locks the outbox exclusively, which a migrate on every deploy
 * should not do to a busy outbox for nothing.
 */
async function applyNotify(db: PgClient, n: OutboxNames, notify: boolean): Promise<void> {
  const inEffect = (await db.query(notifyInEffectSql(n))).rows[0]?.notify === true;
  if (notify && !inEffect) for (const statement of notifyTriggerSql(n)) await db.query(statement);
  if (!notify) {
    const { rows } = await db.query(`SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass($1) AND tgname = $2`, [n.outbox, NOTIFY_TRIGGER]);
    if (rows.length > 0) await db.query(`DROP TRIGGER ${NOTIFY_TRIGGER} ON ${n.outbox}`);
  }
  await db.query(`INSERT INTO ${n.meta} (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`, [
    NOTIFY_META_KEY,
    notify ? 'on' : 'off',
  ]);
}

export type { TopicStatus };

/** The state of a PostgreSQL outbox, as `herald status` shows it: the common fields and the slot. */
export interface OutboxStatus extends StoreStatus {
  /** The logical relay's slot, when one exists with the configured (or default) name. */
  readonly slot?: SlotStatus;
  /**
   * Whether the outbox's NOTIFY trigger is in effect: polling relays are woken at commit (`true`),
   * or find new events by their idle poll (`false`, `herald migrate --no-notify`). PostgreSQL
   * only: the MySQL and SQLite stores have no notification, their relays always poll.
   */
  readonly notify?: boolean;
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
    const notify = (await db.query(notifyInEffectSql(n))).rows[0]?.notify === true;
    return {
      ...summarizeStatus(pending.rows, dead.rows, relays.rows[0].live),
      ...(slot.exists ? { slot } : {}),
      notify,
    };
  } catch (err) {
    throw databaseError(err, 'cannot read the outbox status');
  } finally {
    await db.end().catch(() => undefined);
  }
}
