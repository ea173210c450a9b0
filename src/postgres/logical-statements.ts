/** The statements a {@link LogicalSource} records delivery, parking and dead letters with, each one round trip. */
import type { OutboxNames } from './schema.js';
import type { RelayRecord } from '../relay/source.js';
import { outboxRowOf } from '../store/outbox-rows.js';

const EVENT_COLUMNS = `event_id uuid, topic text, partition_key text, type text, source text, subject text,
  time timestamptz, dataschema text, traceparent text, data text, attempts int, delay_ms float8, last_error text`;
/** The event columns of `relay_parked` and `dead_letter`, in the order the statements use. */
export const EVENT_FIELDS = 'event_id, topic, partition_key, type, source, subject, time, dataschema, traceparent, data';
/** {@link EVENT_FIELDS} read from `json_to_recordset`, where `data` arrives as text. */
const EVENT_VALUES = 'event_id, topic, partition_key, type, source, subject, time, dataschema, traceparent, data::json';

/**
 * One statement: delete the delivered outbox rows ($1) and move the recorded position ($2..$6),
 * but only if every transaction of the batch ($7, top-level xids from the stream's Begin) is
 * visible to the statement; otherwise it changes nothing. It returns `unseen`, the number of
 * those transactions still invisible (`unseen_xids`: which), and the caller runs it again a moment later.
 */
export function deliveredSql(n: OutboxNames): string {
  return `WITH ${unseenSql(7)},
    deleted AS (DELETE FROM ${n.outbox} WHERE id = ANY($1::bigint[]) AND ${ALL_SEEN}),
    progress AS (${progressSql(n, 2)})
    SELECT ${UNSEEN_RESULT}`;
}

/**
 * One statement: park or dead-letter events, delete their outbox rows, move the recorded
 * position; like {@link deliveredSql}, all or nothing on the visibility of the transactions ($9).
 */
export function resolveSql(n: OutboxNames): string {
  return `WITH ${unseenSql(9)},
         parked AS (
           INSERT INTO ${n.parked} (${EVENT_FIELDS}, attempts, retry_at, last_error)
           SELECT ${EVENT_VALUES}, attempts,
             CASE WHEN delay_ms > 0 THEN now() + delay_ms * interval '1 millisecond' END, last_error
           FROM ROWS FROM (json_to_recordset($1::text::json) AS (${EVENT_COLUMNS})) WITH ORDINALITY AS r(${EVENT_FIELDS}, attempts, delay_ms, last_error, ord)
           WHERE ${ALL_SEEN}
           ORDER BY ord),
         dead AS (
           INSERT INTO ${n.deadLetter} (id, ${EVENT_FIELDS}, created_at, attempts, last_error)
           SELECT nextval('${n.idSequence}'::regclass), ${EVENT_VALUES}, now(), attempts, last_error
           FROM json_to_recordset($2::text::json) AS r(${EVENT_COLUMNS})
           WHERE ${ALL_SEEN}),
         deleted AS (DELETE FROM ${n.outbox} WHERE id = ANY($3::bigint[]) AND ${ALL_SEEN}),
         progress AS (${progressSql(n, 4)})
         SELECT ${UNSEEN_RESULT}`;
}

/**
 * The CTE `unseen`: the transactions of parameter `$param` (32-bit xids) that the statement's own
 * snapshot does not see yet.
 *
 * Why: the walsender decodes and sends a transaction once its commit record is flushed, which
 * is before the commit becomes visible to other sessions (the committing backend leaves the
 * ProcArray afterwards, and with synchronous replication only after a standby answered). A
 * DELETE running in that window skips the rows, as in-progress; recording the position and
 * confirming the slot past them would leave delivered rows in the outbox that the slot never
 * sends again. All parts of one statement share one snapshot, so checking it here is exact.
 *
 * The 32-bit xid is widened to the `xid8` nearest the snapshot's xmax (a transaction the stream
 * just sent is far less than 2^31 transactions away from it).
 */
function unseenSql(param: number): string {
  const xmax = `pg_snapshot_xmax(s)::text::bigint`;
  const full = `GREATEST(${xmax} + ((x - ${xmax} % 4294967296 + 6442450944) % 4294967296) - 2147483648, 3)`;
  return `unseen AS (
      SELECT x FROM unnest($${param}::bigint[]) AS t(x), pg_current_snapshot() AS s
      WHERE NOT pg_visible_in_snapshot(${full}::text::xid8, s))`;
}

/** The result row of a recording statement: how many transactions were not visible, and which. */
const UNSEEN_RESULT = `(SELECT count(*) FROM unseen)::int AS unseen, (SELECT string_agg(x::text, ', ' ORDER BY x) FROM unseen) AS unseen_xids`;

/** The condition every write of a recording statement carries: all its transactions are visible. */
const ALL_SEEN = 'NOT EXISTS (SELECT 1 FROM unseen)';

/** The recorded-position upsert, its parameters numbered from `$first`; a null LSN, or an unseen transaction, skips it. */
function progressSql(n: OutboxNames, first: number): string {
  const [slot, lsn, done, id, time] = [0, 1, 2, 3, 4].map((i) => `$${first + i}`);
  return `INSERT INTO ${n.progress} (slot, commit_lsn, events_done, last_event_id, commit_time)
    SELECT ${slot}, ${lsn}::text::pg_lsn, ${done}::int, ${id}::uuid, ${time}::timestamptz WHERE ${lsn}::text IS NOT NULL AND ${ALL_SEEN}
    ON CONFLICT (slot) DO UPDATE SET commit_lsn = EXCLUDED.commit_lsn, events_done = EXCLUDED.events_done,
      last_event_id = EXCLUDED.last_event_id, commit_time = EXCLUDED.commit_time, updated_at = now()`;
}

/** A row for `relay_parked` or `dead_letter`, in the JSON shape the statements read. */
export type ParkRow = Record<string, unknown>;

/** The JSON row {@link resolveSql} reads for one parked or dead-lettered event, with its failure if any. */
export function parkRow(record: RelayRecord, failure?: { attempts: number; delayMs: number; error: string }): ParkRow {
  return {
    ...outboxRowOf(record.outgoing.event, record.outgoing.topic, record.outgoing.data),
    attempts: failure?.attempts ?? record.attempts,
    delay_ms: failure?.delayMs ?? 0,
    last_error: failure?.error ?? null,
  };
}

/** The prefix of the WAL messages the source writes to move an idle slot forward. */
export function heartbeatPrefix(n: OutboxNames): string {
  return `${n.messagePrefix}:heartbeat`;
}
