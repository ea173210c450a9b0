import { HeraldError, ErrorCodes } from '../errors.js';
import { pgExecutor } from '../data-layers/pg.js';
import { postgresJsExecutor } from '../data-layers/postgres-js.js';
import { mysql2Executor } from '../data-layers/mysql2.js';
import { kyselyExecutor } from '../data-layers/kysely.js';
import { drizzleExecutor } from '../data-layers/drizzle.js';
import { knexExecutor } from '../data-layers/knex.js';
import { typeormExecutor } from '../data-layers/typeorm.js';
import { prismaExecutor } from '../data-layers/prisma.js';
import { betterSqlite3Executor } from '../data-layers/better-sqlite3.js';
import type { ExecutorAdapter, SqlDialect, SqlExecutor } from './sql-executor.js';

/**
 * Every data layer Herald joins a transaction through, tried in turn. Each recognises its own
 * handle structurally, so no data layer is imported unless the caller uses it.
 */
const ADAPTERS: readonly ExecutorAdapter[] = [
  postgresJsExecutor,
  pgExecutor,
  mysql2Executor,
  betterSqlite3Executor,
  kyselyExecutor,
  drizzleExecutor,
  knexExecutor,
  typeormExecutor,
  prismaExecutor,
];

/** What each dialect accepts, for the error when nothing matched. */
const ACCEPTED: Readonly<Record<SqlDialect, string>> = {
  postgres:
    'a node-postgres client inside BEGIN, the sql of postgres.js sql.begin(), or the transaction of a data layer: the trx of Kysely db.transaction().execute(), the tx of Drizzle db.transaction(), the tx of Prisma prisma.$transaction(async (tx) => ...), the manager of TypeORM dataSource.transaction(), the trx of knex.transaction()',
  mysql:
    'a mysql2 connection inside beginTransaction() (await pool.getConnection(), not the pool), or the transaction of a data layer: the trx of Kysely db.transaction().execute(), the tx of Drizzle db.transaction(), the tx of Prisma prisma.$transaction(async (tx) => ...), the manager of TypeORM dataSource.transaction(), the trx of knex.transaction()',
  sqlite:
    'a better-sqlite3 Database inside db.transaction() (use appendSync there) or after BEGIN, or the transaction of a data layer: the trx of Kysely db.transaction().execute(), the tx of Drizzle (better-sqlite3) db.transaction((tx) => ...), the tx of Prisma prisma.$transaction(async (tx) => ...), the manager of TypeORM dataSource.transaction(), the trx of knex.transaction()',
};

/**
 * Adapts the transaction a caller holds to {@link SqlExecutor}. Throws `TRANSACTION_REQUIRED`
 * for a handle outside a transaction (which would break atomicity) and for anything unknown,
 * listing what the store accepts.
 */
export function executorFor(tx: unknown, dialect: SqlDialect): SqlExecutor {
  for (const adapter of ADAPTERS) {
    const executor = adapter(tx, dialect);
    if (executor !== undefined) return executor;
  }
  throw new HeraldError(ErrorCodes.TRANSACTION_REQUIRED, `expected a transaction: ${ACCEPTED[dialect]}`);
}
