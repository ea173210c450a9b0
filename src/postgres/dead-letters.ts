import { databaseError } from './outbox.js';
import { outboxNames, type PostgresOutboxSchemaOptions } from './schema.js';
import { connectPg } from './connect.js';
import type { DeadLetter } from '../store/port.js';

export type { DeadLetter };

/** Lists dead-lettered events, oldest first (at most `limit`). */
export async function listDeadLetters(url: string, options: PostgresOutboxSchemaOptions & { limit?: number } = {}): Promise<DeadLetter[]> {
  const n = outboxNames(options);
  const db = await connectPg(url, 'herald-dead-letters');
  try {
    const { rows } = await db.query(
      `SELECT event_id::text, topic, partition_key, type, attempts, last_error, to_json(failed_at) #>> '{}' AS failed_at
       FROM ${n.deadLetter} ORDER BY failed_at, id LIMIT $1`,
      [options.limit ?? 100],
    );
    return rows.map((r) => ({
      eventId: r.event_id,
      topic: r.topic,
      partitionKey: r.partition_key,
      type: r.type,
      attempts: r.attempts,
      lastError: r.last_error,
      failedAt: r.failed_at,
    }));
  } catch (err) {
    throw databaseError(err, 'cannot list dead letters');
  } finally {
    await db.end().catch(() => undefined);
  }
}

/**
 * Moves dead-lettered events back into the outbox, in one transaction, so the relay delivers
 * them again with their original event ids (consumers still deduplicate). `eventIds` limits the
 * move to those events; without it every dead letter is requeued. A requeued event gets a new
 * outbox position, after any event of its key that is already waiting. Returns how many moved.
 */
export async function requeueDeadLetters(
  url: string,
  options: PostgresOutboxSchemaOptions & { eventIds?: readonly string[] } = {},
): Promise<number> {
  const n = outboxNames(options);
  const db = await connectPg(url, 'herald-dead-letters');
  try {
    const { rowCount } = await db.query(
      `WITH moved AS (
         DELETE FROM ${n.deadLetter} WHERE $1::uuid[] IS NULL OR event_id = ANY($1::uuid[]) RETURNING *)
       INSERT INTO ${n.outbox} (event_id, topic, partition_key, type, source, subject, time, dataschema, traceparent, data)
       SELECT event_id, topic, partition_key, type, source, subject, time, dataschema, traceparent, data FROM moved ORDER BY id`,
      [options.eventIds ?? null],
    );
    return rowCount ?? 0;
  } catch (err) {
    throw databaseError(err, 'cannot requeue dead letters');
  } finally {
    await db.end().catch(() => undefined);
  }
}
