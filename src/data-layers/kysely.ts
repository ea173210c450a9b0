import { HeraldError, ErrorCodes } from '../errors.js';
import type { ExecutorAdapter, SqlResult } from '../store/sql-executor.js';

/** The compiled query Kysely's executors run: what `CompiledQuery.raw(sql, parameters)` builds. */
interface CompiledRawQuery {
  readonly sql: string;
  readonly parameters: readonly unknown[];
  readonly query: { readonly kind: 'RawNode'; readonly sqlFragments: readonly string[]; readonly parameters: readonly unknown[] };
  readonly queryId: { readonly queryId: string };
}

/**
 * A Kysely instance, structurally, so `kysely` stays an optional peer. A `Transaction` (the `trx`
 * of `db.transaction().execute(async (trx) => ...)`, or a `ControlledTransaction` of
 * `db.startTransaction().execute()`) has `isTransaction === true`; the root `Kysely` has `false`.
 */
export interface KyselyLike {
  readonly isTransaction: boolean;
  executeQuery(query: CompiledRawQuery): Promise<{ rows: unknown[]; numAffectedRows?: bigint }>;
  withoutPlugins(): KyselyLike;
}

function isKysely(x: unknown): x is KyselyLike {
  return (
    x !== null &&
    typeof x === 'object' &&
    typeof (x as KyselyLike).isTransaction === 'boolean' &&
    typeof (x as KyselyLike).executeQuery === 'function' &&
    typeof (x as KyselyLike).withoutPlugins === 'function' &&
    typeof (x as { selectFrom?: unknown }).selectFrom === 'function'
  );
}

const QUERY_ID = Object.freeze({ queryId: 'herald' });

function compiled(sql: string, parameters: readonly unknown[]): CompiledRawQuery {
  return { sql, parameters, query: { kind: 'RawNode', sqlFragments: [sql], parameters: [] }, queryId: QUERY_ID };
}

/**
 * Kysely, on any of its dialects (PostgresDialect over pg, MysqlDialect over mysql2, and
 * SqliteDialect over better-sqlite3): the `trx` of `db.transaction().execute(async (trx) => ...)`.
 * Statements run as raw compiled queries through `executeQuery` on the transaction's connection,
 * without the instance's plugins (a CamelCasePlugin would rename the columns Herald reads).
 * The root `Kysely` is refused by name: each of its queries may take another pooled connection.
 */
export const kyselyExecutor: ExecutorAdapter = (tx) => {
  if (!isKysely(tx)) return undefined;
  if (!tx.isTransaction) {
    throw new HeraldError(
      ErrorCodes.TRANSACTION_REQUIRED,
      'pass the Kysely transaction (db.transaction().execute(async (trx) => ...), then the trx), not the root Kysely instance: the event must commit with your change',
    );
  }
  const raw = tx.withoutPlugins();
  return {
    inTransaction: true,
    inTransactionNow: () => true,
    async query(text, params): Promise<SqlResult> {
      const result = await raw.executeQuery(compiled(text, params));
      return {
        rows: result.rows as Record<string, unknown>[],
        ...(typeof result.numAffectedRows === 'bigint' ? { affectedRows: Number(result.numAffectedRows) } : {}),
      };
    },
  };
};
