import type { DeadLetter } from '../store/port.js';
import type { SqliteLocation } from './connect.js';
import { sqliteNames, type SqliteOutboxSchemaOptions } from './schema.js';
import { SqliteSession } from './session.js';

/** The outbox columns a dead letter carries back, in one list for both directions. */
const EVENT_COLUMNS = 'event_id, topic, partition_key, type, source, subject, time, dataschema, traceparent, data';

/** Lists dead-lettered events, oldest first (at most `limit`, default 100), without payloads. */
export async function listSqliteDeadLetters(
  location: SqliteLocation,
  options: SqliteOutboxSchemaOptions & { limit?: number } = {},
): Promise<DeadLetter[]> {
  const n = sqliteNames(options);
  const limit = Math.max(1, Math.floor(options.limit ?? 100));
  const session = new SqliteSession(location);
  try {
    const rows = await session.read(
      'cannot list dead letters',
      (db) =>
        db
          .prepare(
            `SELECT event_id, topic, partition_key, type, attempts, last_error,
                strftime('%Y-%m-%dT%H:%M:%fZ', failed_at / 1000.0, 'unixepoch') AS failed_at
             FROM ${n.deadLetter} ORDER BY failed_at, id LIMIT ?`,
          )
          .all(limit) as Record<string, unknown>[],
    );
    return rows.map((r) => ({
      eventId: String(r.event_id),
      topic: String(r.topic),
      partitionKey: String(r.partition_key),
      type: String(r.type),
      attempts: Number(r.attempts),
      lastError: String(r.last_error),
      failedAt: String(r.failed_at),
    }));
  } finally {
    session.close();
  }
}

/**
 * Moves dead-lettered events (all, or those `eventIds`) back into the outbox in one transaction,
 * with their original event ids (consumers still deduplicate). A requeued event gets a new,
 * higher outbox id, after any event of its key already waiting. Returns how many moved.
 */
export async function requeueSqliteDeadLetters(
  location: SqliteLocation,
  options: SqliteOutboxSchemaOptions & { eventIds?: readonly string[] } = {},
): Promise<number> {
  const n = sqliteNames(options);
  const ids = options.eventIds;
  if (ids !== undefined && ids.length === 0) return 0;
  const params: string[] = ids === undefined ? [] : [...ids];
  const where = ids === undefined ? '' : ` WHERE event_id IN (${ids.map(() => '?').join(', ')})`;
  const session = new SqliteSession(location);
  try {
    // BEGIN IMMEDIATE holds the file's write lock, so a concurrent requeue cannot copy the rows twice.
    return await session.write('cannot requeue dead letters', (db) => {
      db.prepare(`INSERT INTO ${n.outbox} (${EVENT_COLUMNS}) SELECT ${EVENT_COLUMNS} FROM ${n.deadLetter}${where} ORDER BY id`).run(
        ...params,
      );
      return db.prepare(`DELETE FROM ${n.deadLetter}${where}`).run(...params).changes;
    });
  } finally {
    session.close();
  }
}
