import { HeraldError, ErrorCodes } from '../errors.js';
import type { ExecutorAdapter } from '../store/sql-executor.js';

/** A node-postgres `Client` or `PoolClient` (structural, so `pg` stays an optional peer). */
export interface PgClientLike {
  query(config: { text: string; values: unknown[]; name?: string }): Promise<{ rows: Record<string, unknown>[] }>;
}

/**
 * node-postgres: the client that ran `BEGIN` (`await pool.connect()`). A `pg.Pool` is refused,
 * because each of its queries may run on another connection, outside the caller's transaction.
 */
export const pgExecutor: ExecutorAdapter = (tx, dialect) => {
  if (dialect !== 'postgres' || tx === null || typeof tx !== 'object' || typeof (tx as PgClientLike).query !== 'function') return undefined;
  // A pg Client (and a pool's client) has connectionParameters; a pg.Pool has totalCount and idleCount.
  if (!('connectionParameters' in tx) && !('totalCount' in tx)) return undefined;
  if ('totalCount' in tx && 'idleCount' in tx) {
    throw new HeraldError(
      ErrorCodes.TRANSACTION_REQUIRED,
      'pass the pg client that ran BEGIN (await pool.connect()), not the pool: the event must commit with your change',
    );
  }
  const client = tx as unknown as PgClientLike;
  return { query: (text, params, name) => client.query({ text, values: [...params], ...(name === undefined ? {} : { name }) }) };
};
