import { HeraldError, ErrorCodes } from '../errors.js';
import type { ExecutorAdapter, SqlDialect, SqlResult } from '../store/sql-executor.js';

/**
 * A knex instance or transaction, structurally, so `knex` stays an optional peer. Both are
 * functions; the `trx` of `knex.transaction(async (trx) => ...)` (or of
 * `await knex.transaction()`) has `isTransaction === true`, the root instance does not.
 */
export interface KnexLike {
  (table?: string): unknown;
  readonly isTransaction?: boolean;
  raw(sql: string, bindings: readonly unknown[]): Promise<unknown>;
  isCompleted?(): boolean;
  readonly client: { readonly dialect?: string };
}

/** knex's `client.dialect` per Herald dialect. */
const KNEX_DIALECTS: Readonly<Record<string, SqlDialect>> = {
  postgresql: 'postgres',
  pg: 'postgres',
  mysql: 'mysql',
  mysql2: 'mysql',
  // knex's better-sqlite3 client extends its sqlite3 client and reports `dialect: 'sqlite3'`.
  sqlite3: 'sqlite',
};

function isKnex(x: unknown): x is KnexLike {
  if (typeof x !== 'function') return false;
  const k = x as unknown as KnexLike;
  return (
    typeof k.raw === 'function' &&
    typeof (x as { transaction?: unknown }).transaction === 'function' &&
    typeof k.client === 'object' &&
    k.client !== null
  );
}

/**
 * Rewrites PostgreSQL's numbered placeholders (`$1`, `$2`, … in any order, any repeated) as the
 * `?` placeholders knex's `raw` takes, with the parameters in the order of their `?`s. Literal
 * question marks (the jsonb operators) are escaped as `\?`, which knex passes through as `?`.
 * Quoted strings, quoted identifiers and dollar-quoted bodies are copied as they are.
 */
export function numberedToQuestionMarks(text: string, params: readonly unknown[]): { sql: string; bindings: unknown[] } {
  let sql = '';
  const bindings: unknown[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === "'" || c === '"') {
      const end = text.indexOf(c, i + 1);
      const stop = end === -1 ? text.length : end + 1;
      sql += text.slice(i, stop);
      i = stop;
    } else if (c === '$') {
      const number = /^\$(\d+)/.exec(text.slice(i));
      const tag = number === null ? /^\$[A-Za-z_]*\$/.exec(text.slice(i)) : null;
      if (number !== null) {
        const n = Number(number[1]);
        if (n < 1 || n > params.length) throw new RangeError(`placeholder $${n} has no parameter (${params.length} given)`);
        sql += '?';
        bindings.push(params[n - 1]);
        i += number[0].length;
      } else if (tag !== null) {
        const end = text.indexOf(tag[0], i + tag[0].length);
        const stop = end === -1 ? text.length : end + tag[0].length;
        sql += text.slice(i, stop);
        i = stop;
      } else {
        sql += c;
        i++;
      }
    } else if (c === '?') {
      sql += '\\?';
      i++;
    } else {
      sql += c;
      i++;
    }
  }
  return { sql, bindings };
}

/**
 * What knex's `raw` resolves to: pg's Result, mysql2's `[rows | ResultSetHeader, fields]`, or
 * on SQLite the rows of a read and better-sqlite3's `{ changes, lastInsertRowid }` of a write.
 */
function resultOf(dialect: SqlDialect, raw: unknown): SqlResult {
  if (dialect === 'sqlite') {
    if (Array.isArray(raw)) return { rows: raw as Record<string, unknown>[] };
    const changes = (raw as { changes?: unknown } | null)?.changes;
    return { rows: [], ...(typeof changes === 'number' ? { affectedRows: changes } : {}) };
  }
  if (dialect === 'postgres') {
    const r = raw as { rows?: Record<string, unknown>[]; rowCount?: number | null };
    return { rows: r.rows ?? [], ...(typeof r.rowCount === 'number' ? { affectedRows: r.rowCount } : {}) };
  }
  const first: unknown = Array.isArray(raw) ? raw[0] : raw;
  if (Array.isArray(first)) return { rows: first as Record<string, unknown>[] };
  const header = (first ?? {}) as { affectedRows?: number; serverStatus?: number };
  return {
    rows: [],
    ...(typeof header.affectedRows === 'number' ? { affectedRows: header.affectedRows } : {}),
    ...(typeof header.serverStatus === 'number' ? { serverStatus: header.serverStatus } : {}),
  };
}

/**
 * knex, on pg, mysql2 and better-sqlite3: the `trx` of
 * `knex.transaction(async (trx) => ...)`. Statements run with `trx.raw` on the transaction's
 * connection; PostgreSQL's `$n` placeholders are rewritten to knex's `?`. On mysql2 the OK
 * packet's `serverStatus` comes back too. The root knex instance is refused by name.
 */
export const knexExecutor: ExecutorAdapter = (tx, dialect) => {
  if (!isKnex(tx)) return undefined;
  const own = KNEX_DIALECTS[tx.client.dialect ?? ''];
  if (own !== dialect) return undefined;
  if (tx.isTransaction !== true) {
    throw new HeraldError(
      ErrorCodes.TRANSACTION_REQUIRED,
      'pass the knex transaction (knex.transaction(async (trx) => ...), then the trx), not the root knex instance: the event must commit with your change',
    );
  }
  const trx = tx;
  return {
    inTransaction: true,
    inTransactionNow: () => trx.isCompleted?.() === false,
    async query(text, params) {
      if (dialect === 'postgres') {
        const { sql, bindings } = numberedToQuestionMarks(text, params);
        return resultOf(dialect, await trx.raw(sql, bindings));
      }
      return resultOf(dialect, await trx.raw(text, [...params]));
    },
  };
};
