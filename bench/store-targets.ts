// The stores the write benchmark runs against, with the data layers of the conformance suite.
import type { StoreOptions } from '../src/store/port.js';
import type { SqlDialect } from '../src/store/sql-executor.js';
import type { LayerTarget } from '../test/stores/conformance.js';
import { pgLayer } from '../test/stores/layers/pg.js';
import { postgresJsLayer } from '../test/stores/layers/postgres-js.js';
import { suffix } from './common.js';
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
  readonly layers: readonly LayerTarget[];
  /** Concurrent writers; default the --clients flag. */
  readonly clients?: number;
  drop?(url: string, options: StoreOptions): Promise<void>;
}

const PG = process.env.BENCH_PG ?? process.env.HERALD_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';

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
    layers: [pgLayer, postgresJsLayer],
    async drop(url, o) {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS "${o.schema}" CASCADE`);
      await c.query('DROP TABLE IF EXISTS bench_order_lines, bench_orders');
      await c.end();
    },
  },
];
