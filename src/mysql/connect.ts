import { HeraldError, ErrorCodes } from '../errors.js';
import { redactUrl } from '../store/redact-url.js';

type Mysql2Promise = typeof import('mysql2/promise');
/** A mysql2 promise connection, as Herald's own tools (migrate, relay, status) use it. */
export type MysqlConnection = import('mysql2/promise').Connection;

let mysqlModule: Mysql2Promise | undefined;

/** Loads `mysql2/promise` on first use; `mysql2` is an optional peer dependency. */
export async function loadMysql2(): Promise<Mysql2Promise> {
  if (!mysqlModule) {
    try {
      const m = (await import('mysql2/promise')) as unknown as Mysql2Promise & { default?: Mysql2Promise };
      mysqlModule = m.default ?? m;
    } catch (cause) {
      throw new HeraldError(
        ErrorCodes.CONFIG_INVALID,
        "herald needs the package 'mysql2' to talk to MySQL or MariaDB: npm install mysql2",
        {
          cause,
        },
      );
    }
  }
  return mysqlModule;
}

/** Checks that `url` is a `mysql://` or `mariadb://` URL; throws `CONFIG_INVALID` naming the option, password removed. */
export function checkMysqlUrl(url: unknown, option = 'database'): URL {
  try {
    if (typeof url === 'string') {
      const u = new URL(url);
      if (u.protocol === 'mysql:' || u.protocol === 'mariadb:') return u;
    }
  } catch {
    // fall through to the error below
  }
  throw new HeraldError(
    ErrorCodes.CONFIG_INVALID,
    `option '${option}' must be a URL like mysql://user@127.0.0.1:3306/db, got '${typeof url === 'string' ? redactUrl(url) : String(url)}'`,
    { details: { option } },
  );
}

/** Where a URL points, for messages: `host:port`, never the user or password. */
export function serverOf(url: string): string {
  const u = checkMysqlUrl(url);
  return `${u.hostname || '127.0.0.1'}:${u.port || '3306'}`;
}

/**
 * Opens a mysql2 connection from a `mysql://` / `mariadb://` URL, in UTC and autocommit mode.
 * The URL's path names the application database, which is not selected: Herald's statements
 * name their database (the `schema` option), so the connection works even before it exists.
 * Errors name `host:port` and the URL without its password, and say what to check.
 */
export async function connectMysql(url: string): Promise<MysqlConnection> {
  const u = checkMysqlUrl(url);
  const mysql = await loadMysql2();
  let conn: MysqlConnection;
  try {
    conn = await mysql.createConnection({
      host: u.hostname || '127.0.0.1',
      port: u.port ? Number(u.port) : 3306,
      user: decodeURIComponent(u.username) || 'root',
      password: decodeURIComponent(u.password),
      // A bounded connect: a server that accepts the socket but never answers must not hang a relay.
      connectTimeout: 10_000,
      enableKeepAlive: true,
      timezone: 'Z',
      // Ids are BIGINT; they are read as text (CAST) so nothing is lost beyond 2^53.
      supportBigNumbers: true,
      bigNumberStrings: true,
    });
  } catch (cause) {
    const code = (cause as { code?: string }).code ?? '';
    const hint =
      code === 'ECONNREFUSED'
        ? 'is the server running and listening there?'
        : code === 'ER_ACCESS_DENIED_ERROR' || code === 'ER_DBACCESS_DENIED_ERROR'
          ? 'check the user and password'
          : 'check the URL';
    throw new HeraldError(
      ErrorCodes.DATABASE_ERROR,
      // mysql2's messages carry the host and user, never the password.
      `cannot connect to mysql at ${serverOf(url)} (${redactUrl(url)}): ${(cause as Error).message}; ${hint}`,
      {
        cause,
        retryable: isMysqlConnectionError(cause) || ['ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN'].includes(code),
        details: { code },
      },
    );
  }
  // An idle connection that the server closes emits 'error'; without a listener Node would crash.
  conn.on('error', () => undefined);
  await conn.query("SET time_zone = '+00:00'");
  return conn;
}

/**
 * True when `err` means the connection itself failed (server restarted, network cut, killed
 * session), not the statement: worth retrying on a new connection.
 */
export function isMysqlConnectionError(err: unknown): boolean {
  const e = err as { code?: string; fatal?: boolean; message?: string };
  return (
    e.fatal === true ||
    ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'PROTOCOL_CONNECTION_LOST', 'ER_SERVER_SHUTDOWN', 'ER_CONNECTION_KILLED'].includes(
      e.code ?? '',
    ) ||
    /connection is in closed state|Can't add new command when connection is in closed state/i.test(e.message ?? '')
  );
}

/** MySQL error codes worth retrying the whole operation for: deadlock and lock wait timeout. */
const RETRYABLE = new Set(['ER_LOCK_DEADLOCK', 'ER_LOCK_WAIT_TIMEOUT']);

/** Wraps a driver error; says to run migrate when the outbox tables or database are missing. */
export function mysqlDatabaseError(cause: unknown, what: string): HeraldError {
  if (cause instanceof HeraldError) return cause;
  const code = (cause as { code?: string }).code;
  if (code === 'ER_NO_SUCH_TABLE' || code === 'ER_BAD_DB_ERROR') {
    return new HeraldError(ErrorCodes.NOT_MIGRATED, `${what}: the outbox tables do not exist; run 'herald migrate' first`, { cause });
  }
  if (code === 'ER_TABLEACCESS_DENIED_ERROR' || code === 'ER_DBACCESS_DENIED_ERROR' || code === 'ER_SPECIFIC_ACCESS_DENIED_ERROR') {
    return new HeraldError(ErrorCodes.PERMISSION_DENIED, `${what}: ${(cause as Error).message}`, { cause });
  }
  return new HeraldError(ErrorCodes.DATABASE_ERROR, `${what}: ${(cause as Error).message}`, {
    cause,
    retryable: RETRYABLE.has(code ?? '') || isMysqlConnectionError(cause),
    details: { code },
  });
}
