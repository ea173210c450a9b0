import { setTimeout as sleep } from 'node:timers/promises';
import { HeraldError, ErrorCodes } from '../errors.js';
import { isSqliteBusy, openSqlite, sqliteDatabaseError, type SqliteDatabase, type SqliteLocation } from './connect.js';

/**
 * How long one statement of a Herald tool may block in SQLite's own busy handler, in ms. It is
 * short on purpose: better-sqlite3 waits synchronously, so a long busy timeout would freeze the
 * whole process (the relay's broker client, a writer's open transaction in the same process)
 * while the lock holder — possibly this very process — cannot finish. Longer waits happen
 * between attempts, on the event loop.
 */
const STATEMENT_BUSY_MS = 20;

/**
 * The one SQLite connection of a relay source or a CLI command, opened on first use. Every
 * operation runs synchronously on it; when SQLite reports the file locked (SQLITE_BUSY), the
 * whole operation is retried after an asynchronous pause, with backoff, until the location's
 * `busyTimeoutMs` has passed — then it fails with a retryable `DATABASE_ERROR` naming the file
 * and what to do. Write operations run in `BEGIN IMMEDIATE` transactions, which take the write
 * lock first, so they never fail half-way on a lock and can be retried whole.
 */
export class SqliteSession {
  readonly #location: SqliteLocation;
  readonly #mustExist: boolean;
  #db: SqliteDatabase | undefined;
  #closed = false;

  constructor(location: SqliteLocation, options: { mustExist?: boolean } = {}) {
    this.#location = location;
    this.#mustExist = options.mustExist ?? true;
  }

  /** The database file. */
  get file(): string {
    return this.#location.file;
  }

  /** The open connection, opening it on first use. */
  connection(): SqliteDatabase {
    if (this.#closed) throw new HeraldError(ErrorCodes.CLOSED, `the sqlite session on '${this.file}' is closed`);
    this.#db ??= openSqlite(this.#location, { busyMs: STATEMENT_BUSY_MS, mustExist: this.#mustExist });
    return this.#db;
  }

  /** Runs `work` (reads, or one autocommit statement), retrying it while the file is locked. */
  read<T>(what: string, work: (db: SqliteDatabase) => T): Promise<T> {
    return this.#retry(what, work);
  }

  /**
   * Runs `work` in one `BEGIN IMMEDIATE` transaction: COMMIT when it returns, ROLLBACK when it
   * throws. Retried whole while the write lock cannot be had.
   */
  write<T>(what: string, work: (db: SqliteDatabase) => T): Promise<T> {
    return this.#retry(what, (db) => db.transaction(work).immediate(db));
  }

  async #retry<T>(what: string, work: (db: SqliteDatabase) => T): Promise<T> {
    const started = Date.now();
    for (let pause = 5; ; pause = Math.min(pause * 2, 250)) {
      try {
        return work(this.connection());
      } catch (err) {
        const waited = Date.now() - started;
        if (!isSqliteBusy(err) || waited >= this.#location.busyTimeoutMs) throw sqliteDatabaseError(err, what, this.file, waited);
      }
      await sleep(Math.min(pause, Math.max(1, this.#location.busyTimeoutMs - (Date.now() - started))));
    }
  }

  /** Closes the connection; idempotent. */
  close(): void {
    this.#closed = true;
    this.#db?.close();
    this.#db = undefined;
  }
}
