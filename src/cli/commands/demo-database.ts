import { join } from 'node:path';
import pg from 'pg';
import { orderPlacedEvent, placeOrder, ORDERS_DDL, type Order } from '../../../examples/orders/service.js';
import { placeOrderSqlite, ORDERS_SQLITE_DDL } from '../../../examples/orders/service-sqlite.js';
import type { ContractRegistry } from '../../contracts/registry.js';
import type { Logger } from '../../observe/logger.js';
import { startEmbeddedPostgres } from '../../postgres/embedded.js';
import { migratePostgres, postgresOutboxStatus } from '../../postgres/migrate.js';
import { PostgresOutbox } from '../../postgres/outbox.js';
import { PollingSource } from '../../postgres/polling-source.js';
import type { RelaySource } from '../../relay/source.js';
import { loadBetterSqlite3 } from '../../sqlite/connect.js';
import { sqliteStore } from '../../sqlite/store.js';
import type { StoreStatus } from '../../store/port.js';

/** Where `herald demo` keeps its orders and outbox: the example service's side of the demo. */
export interface DemoDatabase {
  /** What the demo runs on, for the first log line. */
  readonly description: string;
  /** The relay source on the outbox (created, not started). */
  readonly source: RelaySource;
  /** Places an order with its event in one transaction; throws `EVENT_INVALID` when the event breaks its contract. */
  place(order: Order): Promise<void>;
  /** Appends the order's event, then rolls the transaction back, as a failed business rule would. */
  appendAndRollBack(order: Order): Promise<void>;
  status(): Promise<StoreStatus>;
  close(): Promise<void>;
}

const SOURCE = '/examples/orders-service';

/** The demo on PostgreSQL: the one at `url`, or an embedded one in `<dataDir>/postgres`. */
export async function postgresDemoDatabase(
  url: string | undefined,
  dataDir: string,
  contracts: ContractRegistry,
  log: Logger,
): Promise<DemoDatabase> {
  const embedded = url ? undefined : await startEmbeddedPostgres({ dataDir: join(dataDir, 'postgres'), logger: log });
  const database = url ?? embedded!.url;
  const db = new pg.Client({ connectionString: database });
  try {
    await db.connect();
    await migratePostgres(database);
    for (const ddl of ORDERS_DDL) await db.query(ddl);
  } catch (err) {
    await db.end().catch(() => undefined);
    await embedded?.stop();
    throw err;
  }
  const outbox = new PostgresOutbox({ contracts, source: SOURCE });
  return {
    description: embedded ? `embedded postgresql is up (data in ${join(dataDir, 'postgres')})` : 'connected to postgresql',
    source: new PollingSource({ database, logger: log }),
    place: (order) => placeOrder(db, outbox, order),
    async appendAndRollBack(order) {
      await db.query('BEGIN');
      await outbox.append(db, 'orders.order-placed', orderPlacedEvent(order));
      await db.query('ROLLBACK');
    },
    status: () => postgresOutboxStatus(database),
    async close() {
      await db.end().catch(() => undefined);
      await embedded?.stop();
    },
  };
}

/**
 * The demo on SQLite: the file of `url`, or `<dataDir>/orders.db` for a bare `sqlite:`. No
 * server at all: the service writes with better-sqlite3 and the relay reads the same file.
 */
export async function sqliteDemoDatabase(url: string, dataDir: string, contracts: ContractRegistry, log: Logger): Promise<DemoDatabase> {
  const database = url === 'sqlite:' ? `sqlite:${join(dataDir, 'orders.db')}` : url;
  const store = sqliteStore(database);
  const migration = await store.migrate();
  const Database = loadBetterSqlite3();
  const db = new Database(migration.schema);
  for (const ddl of ORDERS_SQLITE_DDL) db.exec(ddl);
  const outbox = store.writer({ contracts, source: SOURCE });
  return {
    description: `sqlite file ${migration.schema} (WAL, one writer; no server)`,
    source: store.pollingSource({ logger: log }),
    place: async (order) => placeOrderSqlite(db, outbox, order),
    async appendAndRollBack(order) {
      db.exec('BEGIN');
      outbox.appendSync(db, 'orders.order-placed', orderPlacedEvent(order));
      db.exec('ROLLBACK');
    },
    status: () => store.status(),
    close: async () => void db.close(),
  };
}
