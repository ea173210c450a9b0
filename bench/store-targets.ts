// The stores the write benchmark runs against, with the data layers of the conformance suite.
import type { StoreOptions } from '../src/store/port.js';
import type { SqlDialect } from '../src/store/sql-executor.js';
import type { LayerTarget } from '../test/stores/conformance.js';
import { pgLayer } from '../test/stores/layers/pg.js';
import { postgresJsLayer } from '../test/stores/layers/postgres-js.js';
import { kyselyPgLayer } from '../test/stores/layers/kysely-pg.js';
import { drizzlePgLayer } from '../test/stores/layers/drizzle-pg.js';
import { drizzlePostgresJsLayer } from '../test/stores/layers/drizzle-postgres-js.js';
import { knexPgLayer } from '../test/stores/layers/knex-pg.js';
import { typeormPgLayer } from '../test/stores/layers/typeorm-pg.js';
import { prismaPgLayer } from '../test/stores/layers/prisma-pg.js';
import { mysql2Layer } from '../test/stores/layers/mysql2.js';
import { kyselyMysqlLayer } from '../test/stores/layers/kysely-mysql.js';
import { drizzleMysql2Layer } from '../test/stores/layers/drizzle-mysql2.js';
import { knexMysqlLayer } from '../test/stores/layers/knex-mysql.js';
import { typeormMysqlLayer } from '../test/stores/layers/typeorm-mysql.js';
import { prismaMariadbLayer } from '../test/stores/layers/prisma-mariadb.js';
import { suffix } from './common.js';
import { keyLockSlot } from '../src/mysql/outbox.js';
import mysql from 'mysql2/promise';
import { betterSqlite3Layer, betterSqlite3SyncLayer } from '../test/stores/layers/better-sqlite3.js';
import { drizzleBetterSqlite3Layer } from '../test/stores/layers/drizzle-better-sqlite3.js';
import { knexSqliteLayer } from '../test/stores/layers/knex-sqlite.js';
import { kyselySqliteLayer } from '../test/stores/layers/kysely-sqlite.js';
import { prismaSqliteLayer } from '../test/stores/layers/prisma-sqlite.js';
import { typeormSqliteLayer } from '../test/stores/layers/typeorm-sqlite.js';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';

/** One store in the benchmark: where to write, the business tables, Herald's outbox table. */
export interface BenchStore {
  readonly name: string;
  readonly dialect: SqlDialect;
  fresh(): Promise<{ url: string; options: StoreOptions }>;
  /** The business tables (1 order + 3 lines per transaction), created through the first layer. */
  readonly businessDdl: readonly string[];
  /** Herald's outbox table, quoted, as the hand-written INSERT names it. */
  outboxTable(options: StoreOptions): string;
  /**
   * The hand-written INSERT with the store's per-key ordering lock, as Herald's append takes it
   * (the bench's 8 parameters, then `orderedLockParam` of the key when it returns one), so the
   * bench can tell the ordering lock's cost from the rest of Herald's. Absent: the store needs
   * no per-key lock (SQLite's single writer orders every commit).
   */
  orderedInsert?(options: StoreOptions): string;
  /** The lock parameter of {@link orderedInsert} for a partition key. */
  orderedLockParam?(partitionKey: string): unknown;
  /** The wake modes to measure (PostgreSQL: with and without its NOTIFY trigger). */
  readonly notifyModes?: readonly boolean[];
  readonly layers: readonly LayerTarget[];
  /** Concurrent writers; default the --clients flag. */
  readonly clients?: number;
  /**
   * Transactions per client and round, as a multiple of --tx (default 1): a store that commits
   * without waiting for the disk finishes --tx in tens of ms, and a round that short is mostly noise.
   */
  readonly txScale?: number;
  drop?(url: string, options: StoreOptions): Promise<void>;
  /** Settings that move the numbers, for the JSON line. */
  facts?(url: string): Promise<Record<string, unknown>>;
}

const PG = process.env.BENCH_PG ?? process.env.HERALD_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const MYSQL = process.env.BENCH_MYSQL ?? process.env.HERALD_TEST_MYSQL ?? 'mysql://root@127.0.0.1:3306/app';

/** The server of a MySQL URL, without its database (which may not exist yet). */
function serverOf(url: string): string {
  const u = new URL(url);
  u.pathname = '/';
  return u.toString();
}

export const storeTargets: readonly BenchStore[] = [
  {
    name: 'postgres',
    dialect: 'postgres',
    // Business tables in the outbox's schema: the search_path of the bench connections is not changed.
    fresh: async () => ({ url: PG, options: { schema: `bench_store_${suffix}` } }),
    businessDdl: [
      'CREATE TABLE IF NOT EXISTS bench_orders (id uuid PRIMARY KEY, customer_id text NOT NULL, total numeric(12,2) NOT NULL, currency text NOT NULL)',
      'CREATE TABLE IF NOT EXISTS bench_order_lines (order_id uuid NOT NULL REFERENCES bench_orders(id), line int NOT NULL, sku text NOT NULL, quantity int NOT NULL, unit_price numeric(12,2) NOT NULL, PRIMARY KEY (order_id, line))',
    ],
    outboxTable: (o) => `"${o.schema}"."outbox"`,
    // Herald's own single-event statement: the key's transaction-scoped advisory lock in a
    // one-row subquery that the INSERT's row depends on (src/postgres/outbox.ts insertOneSql).
    orderedInsert: (o) =>
      `INSERT INTO "${o.schema}"."outbox" (event_id, topic, partition_key, type, source, time, dataschema, data)
       SELECT $1::uuid, $2::text, $3::text, $4::text, $5::text, $6::timestamptz, $7::text, $8::text::json
       FROM (SELECT pg_advisory_xact_lock(${0x48524c44}, hashtext($3::text))) AS key_lock`,
    orderedLockParam: () => undefined,
    notifyModes: [true, false],
    layers: [pgLayer, postgresJsLayer, kyselyPgLayer, drizzlePgLayer, drizzlePostgresJsLayer, knexPgLayer, typeormPgLayer, prismaPgLayer],
    async drop(url, o) {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS "${o.schema}" CASCADE`);
      await c.query('DROP TABLE IF EXISTS bench_order_lines, bench_orders');
      await c.end();
    },
  },
  {
    name: 'mysql',
    dialect: 'mysql',
    // One database holds the business tables and Herald's, as in a service.
    async fresh() {
      const name = `bench_store_${suffix}`;
      const admin = await mysql.createConnection(serverOf(MYSQL));
      await admin.query(`CREATE DATABASE IF NOT EXISTS \`${name}\``);
      await admin.end();
      const url = new URL(MYSQL);
      url.pathname = `/${name}`;
      return { url: url.toString(), options: { schema: name } };
    },
    businessDdl: [
      'CREATE TABLE IF NOT EXISTS bench_orders (id CHAR(36) PRIMARY KEY, customer_id VARCHAR(64) NOT NULL, total DECIMAL(12,2) NOT NULL, currency CHAR(3) NOT NULL) ENGINE=InnoDB',
      'CREATE TABLE IF NOT EXISTS bench_order_lines (order_id CHAR(36) NOT NULL, line INT NOT NULL, sku VARCHAR(64) NOT NULL, quantity INT NOT NULL, unit_price DECIMAL(12,2) NOT NULL, PRIMARY KEY (order_id, line), FOREIGN KEY (order_id) REFERENCES bench_orders(id)) ENGINE=InnoDB',
    ],
    outboxTable: (o) => `\`${o.schema}\`.\`outbox\``,
    // Herald's single-event statement: the key slot's row lock in key_lock (src/mysql/outbox.ts).
    orderedInsert: (o) =>
      `INSERT INTO \`${o.schema}\`.\`outbox\` (event_id, topic, partition_key, type, source, time, dataschema, data)
       SELECT ?, ?, ?, ?, ?, ?, ?, ? FROM \`${o.schema}\`.\`key_lock\` WHERE slot = ? FOR UPDATE`,
    orderedLockParam: keyLockSlot,
    layers: [mysql2Layer, kyselyMysqlLayer, drizzleMysql2Layer, knexMysqlLayer, typeormMysqlLayer, prismaMariadbLayer],
    async drop(url, o) {
      const c = await mysql.createConnection(serverOf(MYSQL));
      await c.query(`DROP DATABASE IF EXISTS \`${o.schema}\``);
      await c.end();
    },
  },
  {
    name: 'sqlite',
    dialect: 'sqlite',
    // A file on the machine's temp file system (BENCH_SQLITE_DIR to choose), in WAL mode (migrate
    // sets it), synchronous as better-sqlite3 leaves it (the JSON line names the settings).
    fresh: async () => ({ url: `sqlite:${join(process.env.BENCH_SQLITE_DIR ?? tmpdir(), `herald-bench-${suffix}.db`)}`, options: {} }),
    businessDdl: [
      'CREATE TABLE IF NOT EXISTS bench_orders (id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, total REAL NOT NULL, currency TEXT NOT NULL)',
      'CREATE TABLE IF NOT EXISTS bench_order_lines (order_id TEXT NOT NULL REFERENCES bench_orders(id), line INTEGER NOT NULL, sku TEXT NOT NULL, quantity INTEGER NOT NULL, unit_price REAL NOT NULL, PRIMARY KEY (order_id, line))',
    ],
    outboxTable: (o) => `"${o.schema ?? 'herald'}_outbox"`,
    layers: [
      betterSqlite3SyncLayer,
      betterSqlite3Layer,
      drizzleBetterSqlite3Layer,
      kyselySqliteLayer,
      knexSqliteLayer,
      typeormSqliteLayer,
      prismaSqliteLayer,
    ],
    // One writer per file: a second client in this process would wait for the lock synchronously.
    clients: 1,
    // SQLite in WAL mode with synchronous=NORMAL commits without fsync: 400 transactions took
    // ~60 ms, and one GC pause or descheduling moved a round's ratio by 0.3.
    txScale: 10,
    async facts(url) {
      const db = new Database(new URL(url).pathname, { readonly: true });
      const facts = {
        sqliteVersion: (db.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v,
        journalMode: db.pragma('journal_mode', { simple: true }),
        // better-sqlite3 builds SQLite with NORMAL (1) in WAL mode: COMMIT does not fsync; a power
        // loss may undo the last transactions (business rows and events together), never half of one.
        synchronous: db.pragma('synchronous', { simple: true }),
      };
      db.close();
      return facts;
    },
    async drop(url) {
      const file = new URL(url).pathname;
      for (const f of [file, `${file}-wal`, `${file}-shm`]) await rm(f, { force: true });
    },
  },
];
