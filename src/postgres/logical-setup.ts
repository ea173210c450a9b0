import { HeraldError, ErrorCodes } from '../errors.js';
import { quoteIdent } from './identifiers.js';
import { connectPg, type PgClient } from './connect.js';
import { databaseError } from './outbox.js';
import type { OutboxNames, PostgresOutboxSchemaOptions } from './schema.js';

/** Names of the replication objects of the logical relay. Defaults derive from the schema. */
export interface LogicalNamesOptions extends PostgresOutboxSchemaOptions {
  /** Permanent replication slot. Default `<schema>_relay`. */
  readonly slot?: string;
  /** Publication of the outbox table's inserts. Default `<schema>_outbox`. */
  readonly publication?: string;
}

/** Validated, unquoted names of the slot and the publication (both are plain identifiers). */
export interface LogicalNames {
  readonly slot: string;
  readonly publication: string;
}

/** Derives and validates the slot and publication names. */
export function logicalNames(options: LogicalNamesOptions = {}): LogicalNames {
  const schema = options.schema ?? 'herald';
  const slot = options.slot ?? `${schema}_relay`;
  const publication = options.publication ?? `${schema}_outbox`;
  quoteIdent(slot, 'slot');
  quoteIdent(publication, 'publication');
  return { slot, publication };
}

/** What {@link setupLogical} did. */
export interface LogicalSetup extends LogicalNames {
  readonly createdPublication: boolean;
  readonly createdSlot: boolean;
  /** Events already in the outbox table when the slot was created, handed to the relay's backlog. */
  readonly handedOver: number;
}

/**
 * Creates the publication (the outbox table's inserts only, never `FOR ALL TABLES`) and the
 * permanent `pgoutput` slot, unless they exist. A slot only sees transactions that commit after
 * it was created, so the events already in the outbox table at that moment are moved, in the
 * slot's exported snapshot, to the relay's backlog (`relay_parked`), which the logical relay
 * delivers first: nothing committed before the slot is lost, nothing after it is read twice.
 * With `recreateSlot`, an invalidated slot is dropped and created again the same way.
 */
export async function setupLogical(
  url: string,
  n: OutboxNames,
  names: LogicalNames,
  options: { recreateSlot?: boolean } = {},
): Promise<LogicalSetup> {
  const db = await connectPg(url, 'herald-migrate');
  try {
    const { rows: level } = await db.query(`SELECT current_setting('wal_level') AS level`);
    if (level[0].level !== 'logical') {
      throw new HeraldError(
        ErrorCodes.CONFIG_INVALID,
        `the logical relay needs wal_level=logical, the server has '${level[0].level}': run ALTER SYSTEM SET wal_level = logical and restart PostgreSQL`,
        { details: { option: 'source' } },
      );
    }
    const createdPublication = await ensurePublication(db, n, names.publication);
    const slot = await readSlot(db, names.slot);
    if (slot && slot.lost && options.recreateSlot) {
      await db.query('SELECT pg_drop_replication_slot($1)', [names.slot]);
    } else if (slot) {
      if (slot.plugin !== 'pgoutput' || slot.database !== slot.currentDatabase) {
        throw new HeraldError(
          ErrorCodes.CONFIG_INVALID,
          `replication slot '${names.slot}' exists but is not a pgoutput slot of this database; choose another name with --slot`,
          { details: { option: 'slot' } },
        );
      }
      if (slot.lost) throw slotInvalidated(names.slot);
      return { ...names, createdPublication, createdSlot: false, handedOver: 0 };
    }
    const handedOver = await createSlotWithHandover(url, db, n, names.slot);
    return { ...names, createdPublication, createdSlot: true, handedOver };
  } catch (err) {
    throw err instanceof HeraldError ? err : databaseError(err, 'cannot set up logical replication of the outbox');
  } finally {
    await db.end().catch(() => undefined);
  }
}

/**
 * The outbox columns the relay needs. A column list (PostgreSQL 15+) spares the server the text
 * output of bookkeeping columns (`created_at`, `attempts`, ...) for every replicated row.
 */
const PUBLISHED_COLUMNS = 'id, event_id, topic, partition_key, type, source, subject, time, dataschema, traceparent, data';

async function ensurePublication(db: PgClient, n: OutboxNames, publication: string): Promise<boolean> {
  const { rows } = await db.query(
    `SELECT p.pubname, p.puballtables, p.pubinsert,
        EXISTS (SELECT 1 FROM pg_publication_rel r WHERE r.prpubid = p.oid AND r.prrelid = $2::regclass) AS has_outbox
     FROM pg_publication p WHERE p.pubname = $1`,
    [publication, n.outbox],
  );
  if (rows.length === 0) {
    await db.query(`CREATE PUBLICATION "${publication}" FOR TABLE ${n.outbox} (${PUBLISHED_COLUMNS}) WITH (publish = 'insert')`);
    return true;
  }
  const p = rows[0];
  if (p.puballtables || !p.has_outbox || !p.pubinsert) {
    throw new HeraldError(
      ErrorCodes.CONFIG_INVALID,
      `publication '${publication}' exists but does not publish only the inserts of ${n.outbox}; drop it or choose another name with --publication`,
      { details: { option: 'publication' } },
    );
  }
  return false;
}

/** A replication slot as `pg_replication_slots` shows it. */
interface SlotRow {
  readonly plugin: string;
  readonly database: string;
  readonly currentDatabase: string;
  readonly lost: boolean;
}

async function readSlot(db: PgClient, slot: string): Promise<SlotRow | undefined> {
  const { rows } = await db.query(
    `SELECT plugin, database, current_database() AS current, wal_status FROM pg_replication_slots WHERE slot_name = $1`,
    [slot],
  );
  const r = rows[0];
  return r ? { plugin: r.plugin, database: r.database, currentDatabase: r.current, lost: r.wal_status === 'lost' } : undefined;
}

/**
 * Creates the slot on a replication connection with an exported snapshot, and while that
 * snapshot is alive moves the rows it can see from the outbox table to the backlog, in id order.
 * If the move fails the slot is dropped again, so that a retry starts from a clean state.
 */
async function createSlotWithHandover(url: string, db: PgClient, n: OutboxNames, slot: string): Promise<number> {
  const repl = await connectPg(url, 'herald-migrate-slot', { replication: 'database' });
  try {
    const created = await repl.query(`CREATE_REPLICATION_SLOT "${slot}" LOGICAL pgoutput (SNAPSHOT 'export')`);
    const snapshot = created.rows[0].snapshot_name as string;
    try {
      await db.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      await db.query(`SET TRANSACTION SNAPSHOT '${snapshot.replace(/'/g, '')}'`);
      const { rowCount } = await db.query(
        `WITH moved AS (DELETE FROM ${n.outbox} RETURNING *)
         INSERT INTO ${n.parked} (id, event_id, topic, partition_key, type, source, subject, time, dataschema, traceparent, data, created_at)
         SELECT id, event_id, topic, partition_key, type, source, subject, time, dataschema, traceparent, data, created_at FROM moved ORDER BY id`,
      );
      await db.query('COMMIT');
      return rowCount ?? 0;
    } catch (err) {
      await db.query('ROLLBACK').catch(() => undefined);
      await repl.end().catch(() => undefined);
      await db.query('SELECT pg_drop_replication_slot($1)', [slot]).catch(() => undefined);
      throw err;
    }
  } finally {
    await repl.end().catch(() => undefined);
  }
}

/** The error for a slot PostgreSQL invalidated (it exceeded `max_slot_wal_keep_size`). */
export function slotInvalidated(slot: string, cause?: unknown): HeraldError {
  return new HeraldError(
    ErrorCodes.SLOT_INVALIDATED,
    `replication slot '${slot}' was invalidated by PostgreSQL (it kept more WAL than max_slot_wal_keep_size allows): ` +
      `run 'herald migrate --source logical --recreate-slot'; undelivered events of the outbox table are kept and delivered, ` +
      `WAL-message events written since the slot's last confirmed position are lost`,
    { cause, details: { slot } },
  );
}

/**
 * The privileges the logical relay needs, as statements an administrator runs once: a login
 * role with `REPLICATION` (to stream the slot) and nothing beyond Herald's own tables.
 */
export function relayGrants(n: OutboxNames, role: string): string[] {
  const r = quoteIdent(role, 'relay role');
  return [
    `CREATE ROLE ${r} LOGIN REPLICATION`,
    `GRANT USAGE ON SCHEMA ${n.schema} TO ${r}`,
    `GRANT SELECT ON ${n.meta} TO ${r}`,
    `GRANT SELECT, DELETE ON ${n.outbox} TO ${r}`,
    `GRANT SELECT, INSERT, UPDATE, DELETE ON ${n.parked}, ${n.progress} TO ${r}`,
    `GRANT INSERT ON ${n.deadLetter} TO ${r}`,
    `GRANT USAGE ON SEQUENCE ${n.idSequence} TO ${r}`,
    `GRANT EXECUTE ON FUNCTION pg_logical_emit_message(boolean, text, text) TO ${r}`,
  ];
}

/** The state of the logical relay's slot, as `herald status` shows it. */
export interface SlotStatus {
  readonly slot: string;
  readonly exists: boolean;
  /** A relay is streaming the slot now. */
  readonly active: boolean;
  /** `reserved`, `extended`, `unreserved` or `lost` (see `pg_replication_slots`). */
  readonly walStatus: string | null;
  /** WAL the slot keeps that the relay has not confirmed, in bytes. */
  readonly lagBytes: number | null;
  /** Replication lag the server measured for the streaming relay, in seconds (null when idle or not streaming). */
  readonly lagSeconds: number | null;
  /** Seconds since the relay last recorded delivered events. */
  readonly lastDeliverySeconds: number | null;
  /** Bytes of WAL that can still be written before the slot is invalidated (null: no limit). */
  readonly safeWalBytes: number | null;
  /** Events held back behind a failed event, or handed over from before the slot existed. */
  readonly parked: number;
  /**
   * Outbox rows the slot has already passed: their transaction precedes the oldest one the slot
   * may still send (its `catalog_xmin`), so no relay will send or delete them again. They were
   * delivered but not deleted (or written before the slot existed without being handed over).
   * 0 when there is no slot; absent when not measured.
   */
  readonly deliveredNotDeleted?: number;
}

/**
 * Reads the slot's lag in bytes and time, its WAL status, the relay's backlog, and the outbox
 * rows the slot has passed.
 *
 * Rows the slot has passed: PostgreSQL moves a logical slot's `catalog_xmin` to the oldest
 * transaction still running at a point the relay has confirmed (a running-transactions record,
 * logged at least every 15 s while there is activity, and at checkpoints). Every transaction
 * older than that committed before the slot's confirmed position, so the slot never sends it
 * again; an outbox row written by one (`age(xmin) > age(catalog_xmin)`, wraparound-safe) can only
 * be an event that was delivered and not deleted. The test is conservative: a leftover is seen
 * once `catalog_xmin` passes it, within about a heartbeat and 15 s of the relay confirming.
 */
export async function logicalSlotStatus(db: PgClient, n: OutboxNames, slot: string): Promise<SlotStatus> {
  const { rows } = await db.query(
    `SELECT s.active, s.wal_status,
        pg_wal_lsn_diff(pg_current_wal_lsn(), s.confirmed_flush_lsn)::float8 AS lag_bytes,
        s.safe_wal_size::float8 AS safe_wal_bytes,
        (SELECT extract(epoch FROM r.flush_lag)::float8 FROM pg_stat_replication r WHERE r.pid = s.active_pid) AS lag_seconds,
        (SELECT extract(epoch FROM now() - p.updated_at)::float8 FROM ${n.progress} p WHERE p.slot = $1) AS last_delivery,
        (SELECT count(*)::int FROM ${n.parked}) AS parked,
        (SELECT count(*)::int FROM ${n.outbox} o WHERE age(o.xmin) > age(s.catalog_xmin)) AS delivered_not_deleted
     FROM (SELECT 1) one LEFT JOIN pg_replication_slots s ON s.slot_name = $1`,
    [slot],
  );
  const r = rows[0];
  return {
    slot,
    exists: r.active !== null,
    active: r.active === true,
    walStatus: r.wal_status,
    lagBytes: r.lag_bytes,
    lagSeconds: r.lag_seconds,
    lastDeliverySeconds: r.last_delivery,
    safeWalBytes: r.safe_wal_bytes,
    parked: r.parked,
    deliveredNotDeleted: r.delivered_not_deleted ?? 0,
  };
}
