import { HeraldError, ErrorCodes } from '../errors.js';
import type { ExecutorAdapter, SqlDialect, SqlExecutor } from '../store/sql-executor.js';
import { betterSqlite3Executor, isBetterSqlite3, type BetterSqlite3Like } from './better-sqlite3.js';
import { mysql2Executor } from './mysql2.js';
import { pgExecutor } from './pg.js';
import { postgresJsExecutor } from './postgres-js.js';

/** The symbol Drizzle tags its classes with (`static [entityKind] = 'PgTransaction'`). */
const ENTITY_KIND = Symbol.for('drizzle:entityKind');

/**
 * A Drizzle database or transaction, structurally, so `drizzle-orm` stays an optional peer: the
 * `tx` of `db.transaction(async (tx) => ...)` is a `PgTransaction` / `MySqlTransaction` whose
 * `session.client` is the driver's connection that ran BEGIN.
 */
export interface DrizzleLike {
  readonly session: { readonly client: unknown };
  readonly dialect: object;
}

/** Per Herald dialect: Drizzle's root database class, its transaction class, and the drivers whose clients Herald runs on. */
const KINDS: Readonly<
  Record<SqlDialect, { database: string; transaction: string; adapters: readonly ExecutorAdapter[]; drivers: string }>
> = {
  postgres: {
    database: 'PgDatabase',
    transaction: 'PgTransaction',
    adapters: [pgExecutor, postgresJsExecutor],
    drivers: 'drizzle-orm/node-postgres or drizzle-orm/postgres-js',
  },
  mysql: { database: 'MySqlDatabase', transaction: 'MySqlTransaction', adapters: [mysql2Executor], drivers: 'drizzle-orm/mysql2' },
  sqlite: {
    database: 'BaseSQLiteDatabase',
    transaction: 'SQLiteTransaction',
    adapters: [betterSqlite3Executor],
    drivers: 'drizzle-orm/better-sqlite3',
  },
};

/** The entity kinds of `x`'s class and its ancestors (`['NodePgTransaction', 'PgTransaction', 'PgDatabase']`). */
function entityKinds(x: unknown): string[] {
  if (x === null || typeof x !== 'object') return [];
  const kinds: string[] = [];
  let cls: unknown = Object.getPrototypeOf(x)?.constructor;
  while (typeof cls === 'function') {
    if (Object.prototype.hasOwnProperty.call(cls, ENTITY_KIND))
      kinds.push(String((cls as unknown as Record<symbol, unknown>)[ENTITY_KIND]));
    cls = Object.getPrototypeOf(cls);
  }
  return kinds;
}

function isDrizzle(x: unknown): x is DrizzleLike {
  const session = (x as { session?: unknown } | null)?.session;
  return session !== null && typeof session === 'object' && 'client' in session;
}

/** The refusal of a root Drizzle database, whose statements are not inside the caller's transaction. */
function rootRefused(kinds: readonly string[]): HeraldError {
  return new HeraldError(
    ErrorCodes.TRANSACTION_REQUIRED,
    `pass the tx of db.transaction(async (tx) => ...), not the root Drizzle db (${kinds[0]}): the event must commit with your change`,
  );
}

/**
 * The better-sqlite3 `Database` under a Drizzle SQLite transaction (`drizzle-orm/better-sqlite3`:
 * the `tx` of the synchronous `db.transaction((tx) => ...)`), for the SQLite store's synchronous
 * append; `undefined` for anything else. The root Drizzle db is refused by name.
 */
export function drizzleBetterSqlite3Client(tx: unknown): BetterSqlite3Like | undefined {
  const kinds = entityKinds(tx);
  if (!kinds.includes(KINDS.sqlite.database) || !isDrizzle(tx) || !isBetterSqlite3(tx.session.client)) return undefined;
  if (!kinds.includes(KINDS.sqlite.transaction)) throw rootRefused(kinds);
  return tx.session.client;
}

/**
 * Drizzle over node-postgres, postgres.js, mysql2 and better-sqlite3: the `tx` of `db.transaction(async (tx) => ...)`
 * (or of a nested `tx.transaction()`, a savepoint on the same connection). Herald runs its
 * statements on that transaction's driver connection (`tx.session.client`) through the driver's
 * own adapter: prepared statements on pg, and the OK packet's status on mysql2. The root `db` is
 * refused by name: its queries run on whichever pooled connection is free.
 */
export const drizzleExecutor: ExecutorAdapter = (tx, dialect) => {
  const kinds = entityKinds(tx);
  const kind = KINDS[dialect];
  if (!kinds.includes(kind.database) || !isDrizzle(tx)) return undefined;
  if (!kinds.includes(kind.transaction)) throw rootRefused(kinds);
  const client = tx.session.client;
  for (const adapter of kind.adapters) {
    const executor: SqlExecutor | undefined = adapter(client, dialect);
    if (executor !== undefined) return { ...executor, inTransaction: true };
  }
  throw new HeraldError(
    ErrorCodes.TRANSACTION_REQUIRED,
    `Herald joins Drizzle transactions of ${kind.drivers}; this one (${kinds[0]}) runs on a driver Herald does not know: pass that driver's transaction client instead`,
  );
};
