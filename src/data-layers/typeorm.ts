import { HeraldError, ErrorCodes } from '../errors.js';
import type { ExecutorAdapter, SqlDialect, SqlResult } from '../store/sql-executor.js';

/** TypeORM's structured query result (`queryRunner.query(sql, params, true)`). */
interface QueryResultLike {
  records?: unknown[];
  raw?: unknown;
  affected?: number;
}

/** A TypeORM `QueryRunner`, structurally, so `typeorm` stays an optional peer. */
export interface TypeormQueryRunnerLike {
  readonly isTransactionActive: boolean;
  readonly isReleased: boolean;
  readonly connection: { readonly options: { readonly type: string } };
  query(sql: string, parameters: unknown[], useStructuredResult: true): Promise<QueryResultLike>;
  startTransaction(): Promise<void>;
}

/** A TypeORM `EntityManager`: the `manager` of `dataSource.transaction(async (manager) => ...)` has a `queryRunner` in a transaction. */
export interface TypeormEntityManagerLike {
  readonly '@instanceof': symbol;
  readonly queryRunner?: TypeormQueryRunnerLike;
  readonly connection: { readonly options: { readonly type: string } };
}

/** A TypeORM `DataSource`, which Herald refuses (its queries take any pooled connection). */
export interface TypeormDataSourceLike {
  readonly '@instanceof': symbol;
  readonly options: { readonly type: string };
}

/** The handles Herald joins a TypeORM transaction through. */
export type TypeormTransactionHandle = TypeormEntityManagerLike | TypeormQueryRunnerLike;

const ENTITY_MANAGER = Symbol.for('EntityManager');
const DATA_SOURCE = Symbol.for('DataSource');

/** TypeORM's `type` option per Herald dialect. */
const TYPES: Readonly<Record<string, SqlDialect>> = { postgres: 'postgres', mysql: 'mysql', mariadb: 'mysql', 'better-sqlite3': 'sqlite' };

const WHAT_TO_PASS =
  'pass the manager of dataSource.transaction(async (manager) => ...), or a QueryRunner after await queryRunner.startTransaction()';

function instanceOf(x: unknown, kind: symbol): boolean {
  return x !== null && typeof x === 'object' && (x as { '@instanceof'?: unknown })['@instanceof'] === kind;
}

function isQueryRunner(x: unknown): x is TypeormQueryRunnerLike {
  return (
    x !== null &&
    typeof x === 'object' &&
    typeof (x as TypeormQueryRunnerLike).isTransactionActive === 'boolean' &&
    typeof (x as TypeormQueryRunnerLike).query === 'function' &&
    typeof (x as TypeormQueryRunnerLike).startTransaction === 'function' &&
    typeof (x as TypeormQueryRunnerLike).connection?.options?.type === 'string'
  );
}

function dialectOf(x: { readonly connection?: { readonly options?: { readonly type?: unknown } } }): SqlDialect | undefined {
  const type = x.connection?.options?.type;
  return typeof type === 'string' ? TYPES[type] : undefined;
}

function resultOf(dialect: SqlDialect, r: QueryResultLike): SqlResult {
  const header = (dialect === 'mysql' && r.raw !== null && typeof r.raw === 'object' && !Array.isArray(r.raw) ? r.raw : {}) as {
    serverStatus?: number;
  };
  return {
    rows: (r.records ?? []) as Record<string, unknown>[],
    ...(typeof r.affected === 'number' ? { affectedRows: r.affected } : {}),
    ...(typeof header.serverStatus === 'number' ? { serverStatus: header.serverStatus } : {}),
  };
}

/**
 * TypeORM 0.3 on postgres, mysql, mariadb and better-sqlite3: the `manager` of
 * `dataSource.transaction(async (manager) => ...)`, or a `QueryRunner` after
 * `startTransaction()`. Statements run with `queryRunner.query(sql, params, true)` on the
 * transaction's connection; on MySQL the OK packet's `serverStatus` comes back too. A
 * `DataSource`, `dataSource.manager` (no query runner) and a query runner without an active
 * transaction are refused by name.
 */
export const typeormExecutor: ExecutorAdapter = (tx, dialect) => {
  let runner: TypeormQueryRunnerLike | undefined;
  if (instanceOf(tx, DATA_SOURCE)) {
    if (dialectOf({ connection: tx as TypeormDataSourceLike }) !== dialect) return undefined;
    throw new HeraldError(ErrorCodes.TRANSACTION_REQUIRED, `${WHAT_TO_PASS}, not the DataSource: the event must commit with your change`);
  } else if (instanceOf(tx, ENTITY_MANAGER)) {
    const manager = tx as TypeormEntityManagerLike;
    if (dialectOf(manager) !== dialect) return undefined;
    if (manager.queryRunner === undefined) {
      throw new HeraldError(
        ErrorCodes.TRANSACTION_REQUIRED,
        `${WHAT_TO_PASS}, not an EntityManager without a transaction (dataSource.manager): the event must commit with your change`,
      );
    }
    runner = manager.queryRunner;
  } else if (isQueryRunner(tx)) {
    if (dialectOf(tx) !== dialect) return undefined;
    runner = tx;
  } else {
    return undefined;
  }
  if (!runner.isTransactionActive || runner.isReleased) {
    throw new HeraldError(
      ErrorCodes.TRANSACTION_REQUIRED,
      `${WHAT_TO_PASS}: this QueryRunner has no active transaction (call await queryRunner.startTransaction() first)`,
    );
  }
  const active = runner;
  return {
    inTransaction: true,
    inTransactionNow: () => active.isTransactionActive && !active.isReleased,
    query: async (text, params) => resultOf(dialect, await active.query(text, [...params], true)),
  };
};
