import { HeraldError, ErrorCodes } from '../errors.js';
import type { ExecutorAdapter } from '../store/sql-executor.js';

/** A postgres.js transaction handle, the `sql` passed to `sql.begin(async (sql) => ...)`. */
export interface PostgresJsLike {
  unsafe(text: string, params: unknown[], options?: { prepare?: boolean }): Promise<Record<string, unknown>[]>;
  savepoint?: unknown;
}

/** postgres.js: the `sql` inside `sql.begin()`; the root `sql` (which has no `savepoint`) is refused. */
export const postgresJsExecutor: ExecutorAdapter = (tx, dialect) => {
  if (dialect !== 'postgres' || typeof tx !== 'function' || typeof (tx as unknown as PostgresJsLike).unsafe !== 'function')
    return undefined;
  const sql = tx as unknown as PostgresJsLike;
  if (typeof sql.savepoint !== 'function') {
    throw new HeraldError(
      ErrorCodes.TRANSACTION_REQUIRED,
      "pass the 'sql' of a postgres.js transaction (sql.begin(async (tx) => ...)), not the root 'sql': the event must commit with your change",
    );
  }
  return { query: async (text, params, name) => ({ rows: await sql.unsafe(text, [...params], { prepare: name !== undefined }) }) };
};
