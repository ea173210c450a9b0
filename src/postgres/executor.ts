import { HeraldError, ErrorCodes } from '../errors.js';

/**
 * The one thing Herald needs from a caller's transaction: run a parameterised statement on it.
 * Herald never begins, commits or rolls back through this port.
 */
export interface SqlExecutor {
  /**
   * Runs `text`. With `name`, the driver prepares the statement once per connection and reuses
   * the plan (Herald's statements are fixed per outbox, so parsing and planning them every call
   * would cost more than executing them).
   */
  query(text: string, params: readonly unknown[], name?: string): Promise<{ rows: Record<string, unknown>[] }>;
}

/** A node-postgres `Client` or `PoolClient` (structural, so `pg` stays an optional peer). */
interface PgLike {
  query(config: { text: string; values: unknown[]; name?: string }): Promise<{ rows: Record<string, unknown>[] }>;
}

/** A postgres.js transaction handle, the `sql` passed to `sql.begin(async (sql) => ...)`. */
interface PostgresJsLike {
  unsafe(text: string, params: unknown[], options?: { prepare?: boolean }): Promise<Record<string, unknown>[]>;
  savepoint?: unknown;
  begin?: unknown;
}

/**
 * Adapts the transaction a caller holds — a node-postgres client in `BEGIN`, or postgres.js's
 * `sql` inside `sql.begin()` — to {@link SqlExecutor}. Rejects a pg `Pool` and a postgres.js
 * root `sql`, which would run the append outside the caller's transaction and break atomicity.
 */
export function executorFor(tx: unknown): SqlExecutor {
  if (tx !== null && typeof tx === 'function' && typeof (tx as unknown as PostgresJsLike).unsafe === 'function') {
    const sql = tx as unknown as PostgresJsLike;
    if (typeof sql.savepoint !== 'function') {
      throw new HeraldError(
        ErrorCodes.TRANSACTION_REQUIRED,
        "pass the 'sql' of a postgres.js transaction (sql.begin(async (tx) => ...)), not the root 'sql': the event must commit with your change",
      );
    }
    return { query: async (text, params, name) => ({ rows: await sql.unsafe(text, [...params], { prepare: name !== undefined }) }) };
  }
  if (tx !== null && typeof tx === 'object' && typeof (tx as PgLike).query === 'function') {
    // A pg.Pool has totalCount and idleCount; each of its queries may run on another connection.
    if ('totalCount' in tx && 'idleCount' in tx) {
      throw new HeraldError(
        ErrorCodes.TRANSACTION_REQUIRED,
        'pass the pg client that ran BEGIN (await pool.connect()), not the pool: the event must commit with your change',
      );
    }
    const client = tx as PgLike;
    return { query: (text, params, name) => client.query({ text, values: [...params], ...(name === undefined ? {} : { name }) }) };
  }
  throw new HeraldError(
    ErrorCodes.TRANSACTION_REQUIRED,
    'expected a transaction: a node-postgres client inside BEGIN, or the sql of postgres.js sql.begin()',
  );
}
