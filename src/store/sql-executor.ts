/** The SQL dialects of Herald's stores; an executor receives statements in its dialect's placeholders. */
export type SqlDialect = 'postgres' | 'mysql' | 'sqlite';

/**
 * What a statement returned. `rows` is always there; the MySQL fields are filled by data layers
 * that can read the server's OK packet (mysql2) and left out by those that cannot.
 */
export interface SqlResult {
  rows: Record<string, unknown>[];
  /** Rows a write changed, when the data layer reports it. */
  affectedRows?: number;
  /**
   * MySQL: the OK packet's server status flags, when the data layer exposes them. Bit
   * `SERVER_STATUS_IN_TRANS` (1) says whether the session is inside a transaction; the MySQL
   * store refuses to write when it is clear.
   */
  serverStatus?: number;
}

/**
 * The one thing Herald needs from a caller's transaction: run a parameterised statement on it.
 * Statements use the dialect's placeholders (`$1` on PostgreSQL, `?` on MySQL and SQLite).
 * Herald never begins, commits or rolls back through this port.
 */
export interface SqlExecutor {
  /**
   * Runs `text`. With `name`, a driver that can prepares the statement once per connection and
   * reuses the plan (Herald's statements are fixed per outbox); others ignore it. `rows` is empty
   * for statements that return none.
   */
  query(text: string, params: readonly unknown[], name?: string): Promise<SqlResult>;
  /**
   * True when the adapter has proven from the handle's type that it is a transaction (e.g. a
   * Kysely `Transaction`, the `trx` of knex): a store that needs proof of the transaction (MySQL)
   * accepts that instead of `serverStatus`. Adapters that cannot prove it either way leave it out
   * and must return `serverStatus`, or the MySQL store refuses the handle.
   */
  readonly inTransaction?: true;
  /**
   * MySQL: whether the session is inside a transaction right now, from what the data layer
   * already knows without a round trip (mysql2: the status flags of the last packet it received).
   * True lets the MySQL store take the key lock and insert in one statement; false or absent only
   * means "not known here", and the store verifies the transaction with a separate statement.
   */
  inTransactionNow?(): boolean;
}

/**
 * A data layer's adapter: recognises its own kind of handle and returns an executor on it, or
 * `undefined` when `tx` is another kind. When `tx` is its kind but not inside a transaction (a
 * pool, a root client), it throws `TRANSACTION_REQUIRED` saying what to pass instead.
 */
export type ExecutorAdapter = (tx: unknown, dialect: SqlDialect) => SqlExecutor | undefined;
