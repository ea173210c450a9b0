import { createHash, randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Order } from '../../../examples/orders/service.js';
import { ContractRegistry } from '../../contracts/registry.js';
import { KafkaPublisher } from '../../brokers/kafka/publisher.js';
import type { Publisher } from '../../brokers/publisher.js';
import { isHeraldError } from '../../errors.js';
import { consoleLogger, type Logger } from '../../observe/logger.js';
import { packageRoot } from '../../package-root.js';
import { Relay } from '../../relay/relay.js';
import { queryDuckDb } from '../../warehouse/duckdb-instance.js';
import { DuckDbSink } from '../../warehouse/duckdb-sink.js';
import { WarehousePublisher } from '../../warehouse/warehouse-publisher.js';
import { loadFromKafkaUntil } from '../demo-loader.js';
import { printResult, table } from '../output.js';
import { postgresDemoDatabase, sqliteDemoDatabase, type DemoDatabase } from './demo-database.js';

/** Flags of `herald demo`. */
export interface DemoFlags {
  kafka?: string;
  database?: string;
  orders: number;
  dataDir: string;
  json?: boolean;
}

/** The demo's closing numbers. */
export interface DemoSummary {
  destination: string;
  ordersAttempted: number;
  eventsWritten: number;
  rolledBack: number;
  rejectedByContract: number;
  delivered: number;
  pending: number;
  deadLettered: number;
  /** This run's orders found in the warehouse table at the end. */
  inWarehouse: number;
  seconds: number;
}

/**
 * `herald demo`: the example orders service writes orders with their events through the outbox,
 * some transactions roll back and one payload breaks its contract, while a relay delivers the
 * committed events into the DuckDB warehouse (or to Kafka, from where the warehouse loader takes
 * them into the same DuckDB file). Ends with a summary and rows from the warehouse table.
 */
export async function demoCommand(flags: DemoFlags): Promise<void> {
  const log = consoleLogger({ quiet: flags.json === true });
  const started = Date.now();
  const dataDir = resolve(flags.dataDir);
  await mkdir(dataDir, { recursive: true });
  if (!Number.isInteger(flags.orders) || flags.orders < 1) throw new Error(`--orders must be a positive integer, got ${flags.orders}`);

  const contracts = await ContractRegistry.fromDir(join(packageRoot(), 'examples/orders/contracts'));
  // The service's database: embedded PostgreSQL by default, the given PostgreSQL, or a SQLite file.
  const db: DemoDatabase = flags.database?.startsWith('sqlite:')
    ? await sqliteDemoDatabase(flags.database, dataDir, contracts, log)
    : await postgresDemoDatabase(flags.database, dataDir, contracts, log);
  const source = db.source;
  let relay: Relay | undefined;
  let running: Promise<void> | undefined;
  try {
    log.info(db.description);
    const warehouse = join(dataDir, 'warehouse.duckdb');
    const publisher: Publisher = flags.kafka
      ? new KafkaPublisher({ brokers: flags.kafka, createTopics: true })
      : new WarehousePublisher({ sink: new DuckDbSink({ path: warehouse }), contracts });
    const destination = flags.kafka
      ? `kafka ${flags.kafka} -> duckdb ${join(flags.dataDir, 'warehouse.duckdb')}`
      : `duckdb ${join(flags.dataDir, 'warehouse.duckdb')}`;
    const topics = contracts.list().map((c) => c.topic);
    await publisher.prepare(topics);

    await source.start();
    relay = new Relay({ source, publisher, logger: log, pollIntervalMs: 500 });
    running = relay.run();
    log.info(`relay running: outbox -> ${destination}`);

    const counts = { eventsWritten: 0, rolledBack: 0, rejectedByContract: 0 };
    const committed: string[] = [];
    for (let i = 0; i < flags.orders; i++) {
      // Every 25th order carries a line with quantity 0, which the contract forbids: the service's
      // transaction fails at the append and rolls back, so neither the order nor an event exists.
      const order = sampleOrder(i);
      const invalid = i % 25 === 24;
      try {
        await db.place(invalid ? { ...order, lines: [...order.lines, { sku: 'GIFT-000', quantity: 0, unitPrice: 0 }] } : order);
        counts.eventsWritten++;
        committed.push(order.orderId);
      } catch (err) {
        if (!isHeraldError(err, 'EVENT_INVALID')) throw err;
        if (counts.rejectedByContract++ === 0) log.info(`refused by its contract, nothing written: ${err.message}`);
      }
      if (i % 50 === 49) log.info(`placed ${i + 1}/${flags.orders} orders, relay delivered ${relay.stats.delivered}`);
    }
    // A transaction that rolls back for a business reason, after the event was appended.
    await db.appendAndRollBack(sampleOrder(flags.orders));
    counts.rolledBack++;

    // Wait on the relay's own counters, then read the outbox; it is read again only if events of
    // an earlier, interrupted run are still pending.
    const deadline = Date.now() + 60_000;
    const pause = (): Promise<void> => new Promise((r) => setTimeout(r, 100));
    while (relay.stats.delivered + relay.stats.deadLettered < counts.eventsWritten && Date.now() < deadline) await pause();
    let status = await db.status();
    while (status.pending > 0 && Date.now() < deadline) {
      await pause();
      status = await db.status();
    }
    await relay.stop();
    await running;
    // Closing the source releases its buckets at once, so the next run need not wait for the lease.
    await source.close();
    await publisher.close();

    // Through Kafka, the events then go on to the same warehouse, as `herald load` takes them.
    const inWarehouse = (): Promise<number> => countOrders(warehouse, committed);
    if (flags.kafka) await loadFromKafka(flags.kafka, topics, contracts, warehouse, () => inWarehouse(), committed.length, log);

    const summary: DemoSummary = {
      destination,
      ordersAttempted: flags.orders + 1,
      ...counts,
      delivered: relay.stats.delivered,
      pending: status.pending,
      deadLettered: status.deadLettered,
      inWarehouse: await inWarehouse(),
      seconds: Math.round((Date.now() - started) / 100) / 10,
    };
    const rows = await queryDuckDb(
      warehouse,
      `SELECT customer_id AS customer, any_value(customer_email) AS email, count(*) AS orders, sum(total) AS revenue
          FROM orders_order_placed GROUP BY 1 ORDER BY 3 DESC, 1 LIMIT 5`,
    );
    printResult(flags.json === true, { ...summary, topCustomers: rows }, () => {
      const lines = [
        '',
        `orders attempted        ${summary.ordersAttempted}`,
        `events written          ${summary.eventsWritten}   (committed with their orders)`,
        `refused by contract     ${summary.rejectedByContract}   (nothing written)`,
        `rolled back             ${summary.rolledBack}   (no event: the transaction never committed)`,
        `delivered               ${summary.delivered}   -> ${destination}`,
        `pending                 ${summary.pending}`,
        `in the warehouse        ${summary.inWarehouse}   (rows of this run in orders_order_placed)`,
        `dead-lettered           ${summary.deadLettered}`,
        `took                    ${summary.seconds}s`,
      ];
      if (rows.length > 0) {
        lines.push(
          '',
          `top customers in the warehouse table orders_order_placed (all demo runs; e-mails masked by the contract):`,
          table(
            ['customer', 'email', 'orders', 'revenue'],
            rows.map((r) => [String(r.customer), String(r.email), Number(r.orders), Number(r.revenue)]),
          ),
        );
      }
      return lines.join('\n');
    });
    if (summary.pending > 0 || summary.delivered !== summary.eventsWritten || summary.inWarehouse !== summary.eventsWritten)
      process.exitCode = 1;
  } finally {
    if (relay) await relay.stop();
    await source.close();
    await db.close();
  }
}

/** How many of `orderIds` the warehouse table holds (a file another process writes cannot be read). */
async function countOrders(warehouse: string, orderIds: readonly string[]): Promise<number> {
  if (orderIds.length === 0) return 0;
  // The ids are UUIDs this process made, so they can be inlined.
  const list = orderIds.map((id) => `'${id}'`).join(', ');
  const [row] = await queryDuckDb(warehouse, `SELECT count(*) AS n FROM orders_order_placed WHERE order_id IN (${list})`).catch(() => []);
  return Number(row?.n ?? 0);
}

/**
 * Runs the warehouse loader from Kafka into the demo's DuckDB file until it holds all `wanted`
 * orders of this run (a consumer group per data directory: a new one reads the topic from its start).
 */
async function loadFromKafka(
  brokers: string,
  topics: string[],
  contracts: ContractRegistry,
  warehouse: string,
  loaded: () => Promise<number>,
  wanted: number,
  log: Logger,
): Promise<void> {
  const group = `herald-demo-${createHash('sha256').update(warehouse).digest('hex').slice(0, 8)}`;
  const stats = await loadFromKafkaUntil(
    { brokers, topics, group, file: warehouse, contracts, logger: log },
    async () => (await loaded()) >= wanted,
  );
  log.info(`loaded from kafka into ${warehouse}`, { ...stats });
}

const SKUS = ['BOOK-001', 'MUG-002', 'PEN-003', 'LAMP-004', 'DESK-005'];

/** A deterministic order: 20 customers, one to three lines. */
export function sampleOrder(i: number): Order {
  const customer = `cust-${String((i * 7) % 20).padStart(2, '0')}`;
  return {
    orderId: randomUUID(),
    customerId: customer,
    customerEmail: `${customer}@example.com`,
    currency: 'EUR',
    lines: Array.from({ length: (i % 3) + 1 }, (_, l) => ({
      sku: SKUS[(i + l) % SKUS.length]!,
      quantity: (l % 2) + 1,
      unitPrice: 9.5 + l * 10,
    })),
  };
}
