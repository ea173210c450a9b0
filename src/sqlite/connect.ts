import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { HeraldError, ErrorCodes } from '../errors.js';

/** The part of a better-sqlite3 `Database` Herald's own tools use (migrate, relay, status). */
export type SqliteDatabase = import('better-sqlite3').Database;
type BetterSqlite3 = typeof import('better-sqlite3');

/** Where a `sqlite:` URL points, and how long Herald waits for the file's write lock. */
export interface SqliteLocation {
  /** The absolute path of the database file. */
  readonly file: string;
  /** Total time Herald's own connections wait for a lock before giving up, in ms (URL `?busy_timeout=`). */
  readonly busyTimeoutMs: number;
}

/** The default of `?busy_timeout=`: as long as better-sqlite3's own default. */
export const SQLITE_BUSY_TIMEOUT_MS = 5000;

const require = createRequire(import.meta.url);
let driver: BetterSqlite3 | undefined;

/**
 * Loads `better-sqlite3` on first use; it is an optional peer dependency. Loaded with `require`
 * (it is a CommonJS native addon), so opening a file needs no await.
 */
export function loadBetterSqlite3(): BetterSqlite3 {
  if (!driver) {
    try {
      driver = require('better-sqlite3') as BetterSqlite3;
    } catch (cause) {
      throw new HeraldError(
        ErrorCodes.CONFIG_INVALID,
        "herald needs the package 'better-sqlite3' (version 12 on Node 20) to use SQLite: npm install better-sqlite3@12",
        { cause },
      );
    }
  }
  return driver;
}

/**
 * Parses `sqlite:path` (`sqlite:./herald.db`, `sqlite:/abs/herald.db`, `sqlite:///abs/herald.db`,
 * optionally `?busy_timeout=ms`). `sqlite::memory:` and an empty path are refused: every
 * connection to `:memory:` is a separate, empty database, so a relay, `herald status` or a second
 * process could never see the events. Throws `CONFIG_INVALID` naming the option.
 */
export function sqliteLocation(url: unknown, option = 'database'): SqliteLocation {
  const bad = (why: string): HeraldError =>
    new HeraldError(ErrorCodes.CONFIG_INVALID, `option '${option}' ${why}`, { details: { option } });
  if (typeof url !== 'string' || !url.startsWith('sqlite:')) {
    throw bad(`must be a URL like sqlite:./herald.db or sqlite:/var/lib/app/app.db, got '${String(url).slice(0, 80)}'`);
  }
  let u: URL;
  let path: string;
  try {
    u = new URL(url);
    path = decodeURIComponent(u.pathname);
  } catch {
    throw bad(`is not a URL like sqlite:./herald.db (got '${url.slice(0, 80)}')`);
  }
  if (path === ':memory:' || u.pathname === '' || path === '') {
    throw bad(
      `is '${url}': herald needs a database file (sqlite:./herald.db); an in-memory database exists only inside one connection, so a relay in another process could never read its outbox`,
    );
  }
  const raw = u.searchParams.get('busy_timeout');
  const busyTimeoutMs = raw === null ? SQLITE_BUSY_TIMEOUT_MS : Number(raw);
  if (!Number.isInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
    throw bad(`has busy_timeout=${raw}; it must be a whole number of milliseconds, e.g. sqlite:./herald.db?busy_timeout=10000`);
  }
  return { file: resolve(path), busyTimeoutMs };
}

/**
 * Opens the file with better-sqlite3 for one of Herald's own tools. `busyMs` is SQLite's own
 * busy timeout for each statement: the relay keeps it short and waits between attempts without
 * blocking the event loop (see `SqliteSession`). `mustExist` refuses to create a missing file,
 * so that a typo in a relay's URL does not start a relay on a new, empty database.
 */
export function openSqlite(location: SqliteLocation, options: { busyMs: number; mustExist: boolean }): SqliteDatabase {
  const Database = loadBetterSqlite3();
  try {
    return new Database(location.file, { fileMustExist: options.mustExist, timeout: options.busyMs });
  } catch (cause) {
    const missing = options.mustExist && /unable to open|does not exist|SQLITE_CANTOPEN/i.test(String((cause as Error).message));
    throw new HeraldError(
      missing ? ErrorCodes.NOT_MIGRATED : ErrorCodes.DATABASE_ERROR,
      missing
        ? `the sqlite file '${location.file}' does not exist; run 'herald migrate --database sqlite:${location.file}' first`
        : `cannot open the sqlite file '${location.file}': ${(cause as Error).message}; check that the directory exists and is writable`,
      { cause },
    );
  }
}

/** True when `err` means another connection holds a lock SQLite waited for in vain (SQLITE_BUSY, SQLITE_LOCKED). */
export function isSqliteBusy(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  return /^SQLITE_(BUSY|LOCKED)/.test(code) || /database is locked|database table is locked|SQLITE_BUSY/i.test(String(e?.message ?? ''));
}

/** The advice that goes with every "locked" error: what holds the lock and what to change. */
export function busyAdvice(file: string, waitedMs: number): string {
  return (
    `the sqlite file '${file}' stayed locked by another connection for ${waitedMs} ms (SQLITE_BUSY): ` +
    'SQLite lets one writer at a time, so some connection holds a write transaction open (an idle BEGIN, a long batch, a backup, a sqlite3 shell); ' +
    'keep write transactions short and commit them, or wait longer with ?busy_timeout=<ms> in the sqlite: URL'
  );
}

/**
 * Wraps a driver error in a `HeraldError`: a missing table says to run migrate, a lock that
 * outlasted the busy timeout names the file and what to do (retryable), anything else keeps
 * SQLite's message. `file` is the database file when it is known.
 */
export function sqliteDatabaseError(cause: unknown, what: string, file: string | undefined, waitedMs?: number): HeraldError {
  if (cause instanceof HeraldError) return cause;
  const message = String((cause as Error | null)?.message ?? cause);
  const code = (cause as { code?: unknown } | null)?.code;
  const where = file === undefined ? '' : ` in '${file}'`;
  if (/no such table/i.test(message)) {
    return new HeraldError(ErrorCodes.NOT_MIGRATED, `${what}: the outbox tables do not exist${where}; run 'herald migrate' first`, {
      cause,
    });
  }
  if (/no such column/i.test(message)) {
    return new HeraldError(
      ErrorCodes.NOT_MIGRATED,
      `${what}: the outbox tables${where} predate this Herald version (${message}); run 'herald migrate' to upgrade them`,
      {
        cause,
      },
    );
  }
  if (isSqliteBusy(cause)) {
    return new HeraldError(ErrorCodes.DATABASE_ERROR, `${what}: ${busyAdvice(file ?? 'database', waitedMs ?? SQLITE_BUSY_TIMEOUT_MS)}`, {
      cause,
      retryable: true,
      details: { code, ...(file === undefined ? {} : { file }) },
    });
  }
  if (/readonly|read-only|SQLITE_READONLY/i.test(`${String(code)} ${message}`)) {
    return new HeraldError(ErrorCodes.PERMISSION_DENIED, `${what}: ${message}${where}; the file or its directory is not writable`, {
      cause,
    });
  }
  return new HeraldError(ErrorCodes.DATABASE_ERROR, `${what}: ${message}${where}`, { cause, details: { code } });
}
