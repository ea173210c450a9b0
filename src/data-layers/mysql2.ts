import { HeraldError, ErrorCodes } from '../errors.js';
import type { ExecutorAdapter, SqlResult } from '../store/sql-executor.js';

/** A mysql2 connection of the promise API (`mysql2/promise`), structurally, so `mysql2` stays an optional peer. */
interface PromiseConnectionLike {
  execute(sql: string, values: unknown[]): Promise<[unknown, unknown]>;
  /** The callback-API connection it wraps. */
  connection: CallbackConnectionLike;
}

/** A mysql2 connection of the callback API (`mysql2`): it has `promise()` to make the wrapper. */
interface CallbackConnectionLike {
  /** Status flags of the last OK/EOF packet, which mysql2 keeps up to date. */
  serverStatus?: number;
  execute(sql: string, values: unknown[], callback: (err: Error | null, result?: unknown) => void): unknown;
  promise(): unknown;
  config: unknown;
}

function isCallbackConnection(x: unknown): x is CallbackConnectionLike {
  return (
    x !== null &&
    typeof x === 'object' &&
    typeof (x as CallbackConnectionLike).promise === 'function' &&
    typeof (x as CallbackConnectionLike).execute === 'function' &&
    'config' in x
  );
}

function isPromiseConnection(x: unknown): x is PromiseConnectionLike {
  return (
    x !== null &&
    typeof x === 'object' &&
    typeof (x as PromiseConnectionLike).execute === 'function' &&
    isCallbackConnection((x as PromiseConnectionLike).connection)
  );
}

/** A mysql2 Pool or PoolCluster, of either API: it hands out connections (`getConnection`). */
function isPool(x: unknown): boolean {
  return (
    x !== null &&
    typeof x === 'object' &&
    typeof (x as { getConnection?: unknown }).getConnection === 'function' &&
    (typeof (x as { execute?: unknown }).execute === 'function' || typeof (x as { of?: unknown }).of === 'function')
  );
}

/**
 * Whether the last packet mysql2 received said "in a transaction" (`SERVER_STATUS_IN_TRANS`).
 * A connection runs one command at a time, so that packet describes the session as it is now.
 */
function inTransaction(c: CallbackConnectionLike): boolean {
  return typeof c.serverStatus === 'number' && (c.serverStatus & 1) !== 0;
}

/** The part of mysql2's ResultSetHeader Herald reads (the OK packet of a write). */
function resultOf(result: unknown): SqlResult {
  if (Array.isArray(result)) return { rows: result as Record<string, unknown>[] };
  const header = result as { affectedRows?: number; serverStatus?: number };
  return {
    rows: [],
    ...(typeof header.affectedRows === 'number' ? { affectedRows: header.affectedRows } : {}),
    ...(typeof header.serverStatus === 'number' ? { serverStatus: header.serverStatus } : {}),
  };
}

/**
 * mysql2, both APIs: a connection of `mysql2/promise` (from `createConnection` or
 * `await pool.getConnection()`), or a callback-API connection, after `beginTransaction()`.
 * Statements run with `execute` (server-side prepared, cached per connection), and the OK
 * packet's `serverStatus` is returned so the store can verify the transaction. A Pool is refused
 * by name: each of its statements may run on another connection, outside the transaction.
 */
export const mysql2Executor: ExecutorAdapter = (tx, dialect) => {
  if (dialect !== 'mysql') return undefined;
  if (isPool(tx)) {
    throw new HeraldError(
      ErrorCodes.TRANSACTION_REQUIRED,
      'pass a mysql2 connection inside a transaction (const conn = await pool.getConnection(); await conn.beginTransaction()), not the Pool: the event must commit with your change',
    );
  }
  if (isPromiseConnection(tx)) {
    const core = tx.connection;
    return {
      query: async (text, params) => resultOf((await tx.execute(text, [...params]))[0]),
      inTransactionNow: () => inTransaction(core),
    };
  }
  if (isCallbackConnection(tx)) {
    return {
      inTransactionNow: () => inTransaction(tx),
      query: (text, params) =>
        new Promise<SqlResult>((resolve, reject) => {
          tx.execute(text, [...params], (err, result) => (err ? reject(err) : resolve(resultOf(result))));
        }),
    };
  }
  return undefined;
};
