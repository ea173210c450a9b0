/** The SQL dialects of Herald's stores; an executor receives statements in its dialect's placeholders. */
export type SqlDialect = 'postgres' | 'mysql' | 'sqlite';

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
  query(text: string, params: readonly unknown[], name?: string): Promise<{ rows: Record<string, unknown>[] }>;
}

/**
 * A data layer's adapter: recognises its own kind of handle and returns an executor on it, or
 * `undefined` when `tx` is another kind. When `tx` is its kind but not inside a transaction (a
 * pool, a root client), it throws `TRANSACTION_REQUIRED` saying what to pass instead.
 */
export type ExecutorAdapter = (tx: unknown, dialect: SqlDialect) => SqlExecutor | undefined;
