import type { DeadLetter } from '../store/port.js';
import { connectMysql, mysqlDatabaseError } from './connect.js';
import { mysqlNames, type MysqlOutboxSchemaOptions } from './schema.js';

/** Lists dead-lettered events, oldest first (at most `limit`, default 100), without payloads. */
export async function listMysqlDeadLetters(
  url: string,
  options: MysqlOutboxSchemaOptions & { limit?: number } = {},
): Promise<DeadLetter[]> {
  const n = mysqlNames(options);
  const limit = Math.max(1, Math.floor(options.limit ?? 100));
  const db = await connectMysql(url);
  try {
    const [rows] = (await db.query(
      `SELECT event_id, topic, partition_key, type, attempts, last_error,
          DATE_FORMAT(failed_at, '%Y-%m-%dT%H:%i:%s.%fZ') AS failed_at
       FROM ${n.deadLetter} ORDER BY failed_at, id LIMIT ${limit}`,
    )) as unknown as [Record<string, unknown>[]];
    return rows.map((r) => ({
      eventId: String(r.event_id),
      topic: String(r.topic),
      partitionKey: String(r.partition_key),
      type: String(r.type),
      attempts: Number(r.attempts),
      lastError: String(r.last_error),
      failedAt: String(r.failed_at),
    }));
  } catch (err) {
    throw mysqlDatabaseError(err, 'cannot list dead letters');
  } finally {
    await db.end().catch(() => db.destroy());
  }
}

/**
 * Moves dead-lettered events (all, or those `eventIds`) back into the outbox in one transaction,
 * with their original event ids (consumers still deduplicate). A requeued event gets a new,
 * higher outbox id, after any event of its key already waiting. Returns how many moved.
 */
export async function requeueMysqlDeadLetters(
  url: string,
  options: MysqlOutboxSchemaOptions & { eventIds?: readonly string[] } = {},
): Promise<number> {
  const n = mysqlNames(options);
  const ids = options.eventIds;
  if (ids !== undefined && ids.length === 0) return 0;
  const params: string[] = ids === undefined ? [] : [...ids];
  const where = ids === undefined ? '' : ` WHERE event_id IN (${ids.map(() => '?').join(', ')})`;
  const db = await connectMysql(url);
  try {
    await db.beginTransaction();
    // FOR UPDATE: a concurrent requeue of the same rows waits instead of copying them twice.
    const [locked] = (await db.query(`SELECT id FROM ${n.deadLetter}${where} FOR UPDATE`, params)) as unknown as [unknown[]];
    if (locked.length > 0) {
      await db.query(
        `INSERT INTO ${n.outbox} (event_id, topic, partition_key, type, source, subject, time, dataschema, traceparent, data)
         SELECT event_id, topic, partition_key, type, source, subject, time, dataschema, traceparent, data FROM ${n.deadLetter}${where} ORDER BY id`,
        params,
      );
      await db.query(`DELETE FROM ${n.deadLetter}${where}`, params);
    }
    await db.commit();
    return locked.length;
  } catch (err) {
    await db.rollback().catch(() => undefined);
    throw mysqlDatabaseError(err, 'cannot requeue dead letters');
  } finally {
    await db.end().catch(() => db.destroy());
  }
}
