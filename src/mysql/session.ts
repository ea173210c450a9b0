import { connectMysql, isMysqlConnectionError, mysqlDatabaseError, type MysqlConnection } from './connect.js';

type Values = import('mysql2/promise').ExecuteValues[];

/** What a statement on a {@link MysqlSession} returns: rows for a SELECT, counts otherwise. */
export interface MysqlResult {
  readonly rows: Record<string, unknown>[];
  readonly affectedRows: number;
}

/**
 * The one MySQL connection of a relay source (or a CLI command), opened on first use and
 * replaced after the server dropped it (a restart, a network cut, a killed session): the failing
 * call rejects with a retryable `DATABASE_ERROR`, and the next call connects again. The
 * connection stays in autocommit mode except inside {@link transaction}, so every SELECT of the
 * relay sees the newest committed rows.
 */
export class MysqlSession {
  readonly #url: string;
  #db: MysqlConnection | undefined;
  #connecting: Promise<MysqlConnection> | undefined;

  constructor(url: string) {
    this.#url = url;
  }

  /** The open connection, if any, without connecting. */
  get current(): MysqlConnection | undefined {
    return this.#db;
  }

  /** The server's id of the open connection (`CONNECTION_ID()`, what `KILL` takes), if any. */
  get threadId(): number | undefined {
    return this.#db?.threadId ?? undefined;
  }

  async connection(): Promise<MysqlConnection> {
    if (this.#db) return this.#db;
    this.#connecting ??= connectMysql(this.#url).finally(() => (this.#connecting = undefined));
    const db = await this.#connecting;
    db.on('end', () => this.#forget(db));
    db.on('error', () => this.#forget(db));
    this.#db = db;
    return db;
  }

  /**
   * Runs one statement, by default as a server-side prepared statement (parameters never travel
   * inside the SQL text, so they cannot show up in an error); `what` starts the error message.
   */
  async query(text: string, params: readonly unknown[], what: string, options: { prepare?: boolean } = {}): Promise<MysqlResult> {
    const db = await this.connection();
    try {
      // Statements whose text varies with a list's length (DELETE ... IN of a batch) go unprepared,
      // so that they do not fill the server's prepared-statement limit; their parameters are ids.
      return toResult(options.prepare === false ? await db.query(text, params as Values) : await db.execute(text, params as Values));
    } catch (cause) {
      this.#dropIfBroken(db, cause);
      throw mysqlDatabaseError(cause, what);
    }
  }

  /**
   * Runs `work` in one transaction on this session's connection: COMMIT when it resolves,
   * ROLLBACK when it throws (and the error is rethrown, wrapped with `what`).
   */
  async transaction<T>(
    what: string,
    work: (run: (text: string, params: readonly unknown[]) => Promise<MysqlResult>) => Promise<T>,
  ): Promise<T> {
    const db = await this.connection();
    try {
      await db.beginTransaction();
      const result = await work(async (text, params) => toResult(await db.execute(text, params as Values)));
      await db.commit();
      return result;
    } catch (cause) {
      await db.rollback().catch(() => undefined);
      this.#dropIfBroken(db, cause);
      throw mysqlDatabaseError(cause, what);
    }
  }

  /** Disconnects; the session connects again if used later. */
  async close(): Promise<void> {
    const db = this.#db;
    this.#db = undefined;
    await db?.end().catch(() => db.destroy());
  }

  #dropIfBroken(db: MysqlConnection, cause: unknown): void {
    if (this.#db === db && isMysqlConnectionError(cause)) {
      this.#db = undefined;
      db.destroy();
    }
  }

  #forget(db: MysqlConnection): void {
    if (this.#db === db) this.#db = undefined;
  }
}

/** mysql2 answers a SELECT with an array of rows and anything else with a ResultSetHeader. */
function toResult([result]: [unknown, unknown]): MysqlResult {
  if (Array.isArray(result)) return { rows: result as Record<string, unknown>[], affectedRows: 0 };
  return { rows: [], affectedRows: Number((result as { affectedRows?: number }).affectedRows ?? 0) };
}
