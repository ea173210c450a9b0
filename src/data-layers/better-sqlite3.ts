import { HeraldError, ErrorCodes } from '../errors.js';
import type { ExecutorAdapter, SqlResult } from '../store/sql-executor.js';

/** A prepared better-sqlite3 statement, structurally. */
export interface BetterSqlite3StatementLike {
  readonly reader: boolean;
  run(...params: unknown[]): { changes: number };
  all(...params: unknown[]): unknown[];
}

/**
 * A better-sqlite3 `Database`, structurally, so `better-sqlite3` stays an optional peer.
 * `inTransaction` is SQLite's own answer (`sqlite3_get_autocommit`), true inside
 * `db.transaction(fn)` and after a manual `BEGIN`.
 */
export interface BetterSqlite3Like {
  readonly inTransaction: boolean;
  /** The file's path as opened (`:memory:` or `''` for private databases). */
  readonly name: string;
  readonly memory: boolean;
  prepare(sql: string): BetterSqlite3StatementLike;
  transaction(fn: (...args: never[]) => unknown): unknown;
  pragma(source: string, options?: { simple?: boolean }): unknown;
}

/** True for a better-sqlite3 `Database` (it has `prepare`, `transaction`, `pragma` and the `inTransaction` flag). */
export function isBetterSqlite3(x: unknown): x is BetterSqlite3Like {
  return (
    x !== null &&
    typeof x === 'object' &&
    typeof (x as BetterSqlite3Like).prepare === 'function' &&
    typeof (x as BetterSqlite3Like).transaction === 'function' &&
    typeof (x as BetterSqlite3Like).pragma === 'function' &&
    typeof (x as BetterSqlite3Like).inTransaction === 'boolean' &&
    typeof (x as BetterSqlite3Like).memory === 'boolean'
  );
}

/** What to pass, in every refusal of a better-sqlite3 handle. */
export const BETTER_SQLITE3_HINT =
  'call it inside db.transaction(() => { ...; outbox.appendSync(db, ...) }) (better-sqlite3 transactions are synchronous), or after db.exec("BEGIN IMMEDIATE")';

/**
 * Throws `TRANSACTION_REQUIRED` unless `db` is inside a transaction right now: outside one, every
 * statement commits on its own, so the event would commit without the caller's change.
 */
export function requireSqliteTransaction(db: BetterSqlite3Like): void {
  if (!db.inTransaction) {
    throw new HeraldError(
      ErrorCodes.TRANSACTION_REQUIRED,
      `the better-sqlite3 database is not inside a transaction (autocommit): ${BETTER_SQLITE3_HINT}, so that the event commits with your change; nothing was written`,
    );
  }
}

/** Statements prepared per connection, at most this many texts each (compiling one costs more than running it). */
const PREPARED_PER_CONNECTION = 64;
const prepared = new WeakMap<BetterSqlite3Like, Map<string, BetterSqlite3StatementLike>>();

/** `db.prepare(text)`, compiled once per connection and text; the oldest text is dropped past the limit. */
function preparedOn(db: BetterSqlite3Like, text: string): BetterSqlite3StatementLike {
  let cache = prepared.get(db);
  if (cache === undefined) prepared.set(db, (cache = new Map()));
  let statement = cache.get(text);
  if (statement === undefined) {
    statement = db.prepare(text);
    if (cache.size >= PREPARED_PER_CONNECTION) cache.delete(cache.keys().next().value!);
    cache.set(text, statement);
  }
  return statement;
}

/**
 * better-sqlite3: the `Database` inside a transaction (`db.transaction(fn)`, or a manual
 * `BEGIN`). Statements run synchronously on it, each text prepared once per connection; the
 * promise only wraps the result. A database in autocommit mode is refused.
 */
export const betterSqlite3Executor: ExecutorAdapter = (tx, dialect) => {
  if (dialect !== 'sqlite' || !isBetterSqlite3(tx)) return undefined;
  requireSqliteTransaction(tx);
  const db = tx;
  return {
    inTransaction: true,
    inTransactionNow: () => db.inTransaction,
    async query(text, params): Promise<SqlResult> {
      const statement = preparedOn(db, text);
      if (statement.reader) return { rows: statement.all(...params) as Record<string, unknown>[] };
      return { rows: [], affectedRows: statement.run(...params).changes };
    },
  };
};
