import { HeraldError, ErrorCodes } from '../errors.js';
import type { ExecutorAdapter, SqlDialect } from '../store/sql-executor.js';

/**
 * A Prisma client, structurally, so `@prisma/client` stays an optional peer. The interactive
 * transaction client (the `tx` of `prisma.$transaction(async (tx) => ...)`) has the raw query
 * methods but not `$connect` / `$disconnect` (Prisma leaves them out of every transaction
 * client); the root client has them.
 */
export interface PrismaLike {
  $executeRawUnsafe(query: string, ...values: unknown[]): Promise<number>;
  $queryRawUnsafe(query: string, ...values: unknown[]): Promise<unknown>;
  readonly $connect?: unknown;
  /** The schema's datasource provider (`postgresql`, `mysql`, `sqlite`, …): internal, read when present. */
  readonly _activeProvider?: string;
}

const PROVIDERS: Readonly<Record<string, SqlDialect>> = { postgresql: 'postgres', postgres: 'postgres', mysql: 'mysql', sqlite: 'sqlite' };

/** MySQL error numbers Herald's MySQL store reads, as the mysql2 codes it compares against. */
const MYSQL_CODES: Readonly<Record<string, string>> = {
  '1044': 'ER_DBACCESS_DENIED_ERROR',
  '1049': 'ER_BAD_DB_ERROR',
  '1142': 'ER_TABLEACCESS_DENIED_ERROR',
  '1146': 'ER_NO_SUCH_TABLE',
  '1205': 'ER_LOCK_WAIT_TIMEOUT',
  '1213': 'ER_LOCK_DEADLOCK',
  '1227': 'ER_SPECIFIC_ACCESS_DENIED_ERROR',
};

function isPrisma(x: unknown): x is PrismaLike {
  return (
    x !== null &&
    (typeof x === 'object' || typeof x === 'function') &&
    typeof (x as PrismaLike).$executeRawUnsafe === 'function' &&
    typeof (x as PrismaLike).$queryRawUnsafe === 'function'
  );
}

/** Statements whose rows Herald reads go through `$queryRawUnsafe`; the others through `$executeRawUnsafe`, which counts affected rows. */
const RETURNS_ROWS = /^\s*(SELECT|WITH|SHOW|VALUES)\b|\bRETURNING\b/i;

/**
 * A raw-query failure of Prisma (`P2010`) carries the database's own code in
 * `meta.driverAdapterError.cause.originalCode` (SQLSTATE on PostgreSQL, the error number on
 * MySQL). Herald's stores read driver codes (`42P01`, `ER_NO_SUCH_TABLE`), so the error is
 * rethrown with that code, the Prisma error as its cause.
 */
function withDriverCode(err: unknown, dialect: SqlDialect): unknown {
  const meta = (err as { meta?: { driverAdapterError?: { cause?: { originalCode?: unknown } } } } | null)?.meta;
  const original = meta?.driverAdapterError?.cause?.originalCode;
  if (typeof original !== 'string') return err;
  const code = dialect === 'mysql' ? (MYSQL_CODES[original] ?? original) : original;
  return Object.assign(new Error((err as Error).message, { cause: err }), { code });
}

/**
 * Prisma (6 and 7, with driver adapters such as @prisma/adapter-pg, @prisma/adapter-mariadb and
 * @prisma/adapter-better-sqlite3,
 * or its own engines): the `tx` of an interactive transaction,
 * `prisma.$transaction(async (tx) => ...)`. Statements run with `$queryRawUnsafe` /
 * `$executeRawUnsafe` inside that transaction, with the dialect's own placeholders. The root
 * client is refused by name; a batch `$transaction([...])` cannot hold Herald's statements.
 */
export const prismaExecutor: ExecutorAdapter = (tx, dialect) => {
  if (!isPrisma(tx)) return undefined;
  const provider = tx._activeProvider;
  if (typeof provider === 'string' && PROVIDERS[provider] !== dialect) return undefined;
  if (typeof tx.$connect === 'function') {
    throw new HeraldError(
      ErrorCodes.TRANSACTION_REQUIRED,
      'pass the tx of an interactive Prisma transaction (prisma.$transaction(async (tx) => ...)), not the root PrismaClient: the event must commit with your change',
    );
  }
  const client = tx;
  return {
    inTransaction: true,
    inTransactionNow: () => true,
    async query(text, params) {
      try {
        if (RETURNS_ROWS.test(text)) return { rows: (await client.$queryRawUnsafe(text, ...params)) as Record<string, unknown>[] };
        return { rows: [], affectedRows: await client.$executeRawUnsafe(text, ...params) };
      } catch (err) {
        throw withDriverCode(err, dialect);
      }
    },
  };
};
