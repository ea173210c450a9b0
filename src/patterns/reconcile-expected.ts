import { HeraldError, ErrorCodes } from '../errors.js';
import { connectPg, redactUrl } from '../postgres/connect.js';
import type { ExpectedEvent } from './reconcile.js';

/** Options of {@link readExpectedEvents}; defaults in {@link expectedDefaults}. */
export interface ExpectedEventsOptions {
  /** `postgres://` URL of the service's database. */
  readonly database: string;
  /**
   * One SELECT whose rows are the events that should exist, with the columns `id`, `contract`
   * (or `type`) and `time`, e.g.
   * `SELECT event_id AS id, 'orders.order-placed' AS contract, created_at AS time FROM orders`.
   */
  readonly sql: string;
  /** Longest the query may run, in ms (`statement_timeout`). */
  readonly timeoutMs?: number;
}

/** The defaults of {@link ExpectedEventsOptions}, in one table. */
export const expectedDefaults = { timeoutMs: 60_000 } as const;

/**
 * Reads the events a service's own records say should exist, by running the caller's query on
 * PostgreSQL.
 *
 * - Read-only: the query runs inside `BEGIN READ ONLY` (rolled back afterwards) and through the
 *   extended protocol, which takes exactly one statement, so `...; COMMIT; DELETE ...` cannot
 *   leave the read-only transaction. It is bounded by `statement_timeout`.
 * - Rejects with `CONFIG_INVALID` when the result lacks the columns `id`, `contract`/`type` or
 *   `time`, or a row has an empty id, label or time (naming the row number and column, never
 *   its values), and with `DATABASE_ERROR` when the query fails (naming the SQLSTATE, not the
 *   SQL or its values).
 * - Ids are returned as text; `time` as the driver returns it (`Date` for `timestamptz`).
 */
export async function readExpectedEvents(options: ExpectedEventsOptions): Promise<ExpectedEvent[]> {
  if (typeof options.sql !== 'string' || options.sql.trim() === '') {
    throw new HeraldError(ErrorCodes.CONFIG_INVALID, "option 'expectedSql' must be a SELECT returning id, contract (or type) and time", {
      details: { option: 'expectedSql' },
    });
  }
  const timeoutMs = options.timeoutMs ?? expectedDefaults.timeoutMs;
  if (!(Number.isInteger(timeoutMs) && timeoutMs > 0)) {
    throw new HeraldError(ErrorCodes.CONFIG_INVALID, "option 'timeoutMs' must be a positive integer", { details: { option: 'timeoutMs' } });
  }
  const client = await connectPg(options.database, 'herald-reconcile');
  let rows: Record<string, unknown>[];
  let columns: string[];
  try {
    await client.query('BEGIN READ ONLY');
    await client.query(`SET LOCAL statement_timeout = ${timeoutMs}`);
    // The extended protocol refuses a string of several statements, so the query cannot end the
    // read-only transaction and carry on outside it.
    const query: import('pg').QueryConfig & { queryMode: 'extended' } = { text: options.sql, queryMode: 'extended' };
    const result = await client.query(query);
    rows = result.rows as Record<string, unknown>[];
    columns = result.fields.map((f) => f.name);
  } catch (cause) {
    const sqlstate = (cause as { code?: string }).code;
    throw new HeraldError(
      ErrorCodes.DATABASE_ERROR,
      `the expected-events query failed on ${redactUrl(options.database)}: ${(cause as Error).message}${sqlstate === '25006' ? ' (the query runs read-only)' : ''}`,
      { cause, details: { sqlstate } },
    );
  } finally {
    await client.query('ROLLBACK').catch(() => undefined);
    await client.end().catch(() => undefined);
  }
  return toExpected(rows, columns);
}

/**
 * Checks and converts the rows of an expected-events query; exported for readers of other
 * databases. Throws `CONFIG_INVALID` as {@link readExpectedEvents} describes.
 */
export function toExpected(rows: readonly Record<string, unknown>[], columns: readonly string[]): ExpectedEvent[] {
  const label = columns.includes('contract') ? 'contract' : columns.includes('type') ? 'type' : undefined;
  const absent = [
    ...(columns.includes('id') ? [] : ['id']),
    ...(label ? [] : ['contract (or type)']),
    ...(columns.includes('time') ? [] : ['time']),
  ];
  if (absent.length > 0) {
    throw new HeraldError(
      ErrorCodes.CONFIG_INVALID,
      `the expected-events query must return the columns id, contract (or type) and time; it lacks ${absent.join(', ')} (it returned ${columns.join(', ') || 'no columns'}); rename them with AS`,
      { details: { option: 'expectedSql', columns: [...columns] } },
    );
  }
  return rows.map((row, i) => {
    const empty = (column: string): never => {
      throw new HeraldError(ErrorCodes.CONFIG_INVALID, `row ${i + 1} of the expected-events query has no ${column}`, {
        details: { option: 'expectedSql', row: i + 1, column },
      });
    };
    const id = row.id;
    if (id === null || id === undefined || String(id) === '') empty('id');
    const name = row[label!];
    if (typeof name !== 'string' || name === '') empty(label!);
    const time = row.time;
    if (!(time instanceof Date || typeof time === 'string' || typeof time === 'number')) empty('time');
    return { id: String(id), [label!]: name as string, time: time as Date | string | number };
  });
}
