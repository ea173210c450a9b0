import mysql from 'mysql2/promise';

/** The MariaDB (or MySQL) server the tests use; each test file creates its own database in it. */
export const MYSQL_URL = process.env.HERALD_TEST_MYSQL ?? 'mysql://root@127.0.0.1:3306/app';

/** A mysql2 promise connection (no database selected); the caller ends it. */
export function mysqlConnection(): Promise<mysql.Connection> {
  const u = new URL(MYSQL_URL);
  return mysql.createConnection({
    host: u.hostname,
    port: Number(u.port || 3306),
    user: decodeURIComponent(u.username) || 'root',
    password: decodeURIComponent(u.password),
    supportBigNumbers: true,
    bigNumberStrings: true,
  });
}

/** Runs one statement and returns its rows. */
export async function rows(db: mysql.Connection, sql: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
  const [r] = await db.query(sql, params);
  return r as Record<string, unknown>[];
}
