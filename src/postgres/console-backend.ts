import type { ConsoleBackend, ConsoleDeadLetter, ConsoleRelay, DeadLetterFilter, DeadLetterPage } from '../console/backend.js';
import { connectPg, type PgClient } from './connect.js';
import { requeueDeadLetters } from './dead-letters.js';
import type { LogicalNamesOptions } from './logical-setup.js';
import { postgresOutboxStatus } from './migrate.js';
import { databaseError } from './outbox.js';
import { outboxNames } from './schema.js';

/**
 * The console's view of a PostgreSQL outbox: the same status `herald status` reads (with the
 * slot), relays with their live bucket leases, dead letters with payloads, requeue through the
 * store's own `requeueDeadLetters`, and drop. Each call opens one connection and closes it, so
 * an idle console holds nothing on the server.
 */
export function postgresConsoleBackend(url: string, options: LogicalNamesOptions = {}): ConsoleBackend {
  const n = outboxNames(options);
  const schema = options.schema === undefined ? {} : { schema: options.schema };
  const withDb = async <T>(what: string, fn: (db: PgClient) => Promise<T>): Promise<T> => {
    const db = await connectPg(url, 'herald-console');
    try {
      return await fn(db);
    } catch (err) {
      throw databaseError(err, what);
    } finally {
      await db.end().catch(() => undefined);
    }
  };
  const where = (filter: DeadLetterFilter): [string, unknown[]] =>
    filter.topic === undefined ? ['', []] : ['WHERE topic = $1', [filter.topic]];
  return {
    kind: 'postgres',
    can: { drop: true, payloads: true, relays: true, deliveryRate: true },
    status: () => postgresOutboxStatus(url, options),
    relays: () =>
      withDb('cannot list relays', async (db) => {
        // Same liveness rule as status (seen within a minute); a lease counts only until it expires.
        const { rows } = await db.query(
          `SELECT r.id::text, r.host, r.pid, extract(epoch FROM now() - r.seen_at)::float8 AS seen,
                  coalesce(array_agg(l.bucket ORDER BY l.bucket) FILTER (WHERE l.bucket IS NOT NULL), '{}') AS buckets
           FROM ${n.relays} r LEFT JOIN ${n.lease} l ON l.owner = r.id AND l.expires_at > now()
           WHERE r.seen_at > now() - interval '1 minute' GROUP BY r.id ORDER BY r.started_at, r.id`,
        );
        return rows.map((r): ConsoleRelay => ({
          id: r.id,
          host: r.host,
          pid: r.pid,
          seenSecondsAgo: Number(r.seen),
          buckets: (r.buckets as unknown[]).map(Number),
        }));
      }),
    deliveredTotal: () =>
      withDb('cannot read the delivery counter', async (db) => {
        // Delivery deletes outbox rows, and so does dead-lettering (which inserts into dead_letter):
        // deleted outbox rows minus dead-letter inserts is what was delivered. The statistics
        // collector counts both, so this costs the database nothing to maintain.
        const { rows } = await db.query(
          `SELECT coalesce(sum(CASE WHEN relname = 'outbox' THEN n_tup_del ELSE -n_tup_ins END), 0)::float8 AS delivered
           FROM pg_stat_user_tables WHERE schemaname = $1 AND relname IN ('outbox', 'dead_letter')`,
          [options.schema ?? 'herald'],
        );
        return Number(rows[0]?.delivered ?? 0);
      }),
    deadLetterPage: (filter, offset, limit) =>
      withDb('cannot list dead letters', async (db): Promise<DeadLetterPage> => {
        const [clause, params] = where(filter);
        const total = await db.query(`SELECT count(*)::int AS total FROM ${n.deadLetter} ${clause}`, params);
        const { rows } = await db.query(
          `SELECT event_id::text, topic, partition_key, type, dataschema, attempts, last_error,
                  to_json(failed_at) #>> '{}' AS failed_at, data::text AS data
           FROM ${n.deadLetter} ${clause} ORDER BY failed_at, id OFFSET $${params.length + 1} LIMIT $${params.length + 2}`,
          [...params, offset, limit],
        );
        return { total: total.rows[0].total, letters: rows.map(toLetter) };
      }),
    deadLetterIds: (filter, limit) =>
      withDb('cannot list dead letters', async (db) => {
        const [clause, params] = where(filter);
        const { rows } = await db.query(
          `SELECT event_id::text FROM ${n.deadLetter} ${clause} ORDER BY failed_at, id LIMIT $${params.length + 1}`,
          [...params, limit],
        );
        return rows.map((r) => String(r.event_id));
      }),
    requeue: (eventIds) => requeueDeadLetters(url, { ...schema, eventIds }),
    drop: (eventIds) =>
      withDb('cannot drop dead letters', async (db) => {
        const { rowCount } = await db.query(`DELETE FROM ${n.deadLetter} WHERE event_id = ANY($1::uuid[])`, [eventIds]);
        return rowCount ?? 0;
      }),
    close: async () => undefined,
  };
}

function toLetter(r: Record<string, unknown>): ConsoleDeadLetter {
  return {
    eventId: String(r.event_id),
    topic: String(r.topic),
    partitionKey: String(r.partition_key),
    type: String(r.type),
    dataschema: r.dataschema === null ? null : String(r.dataschema),
    attempts: Number(r.attempts),
    lastError: String(r.last_error),
    failedAt: String(r.failed_at),
    // `data` is json text; a value that does not parse is kept as text, still masked when shown.
    data: parseJson(String(r.data)),
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
