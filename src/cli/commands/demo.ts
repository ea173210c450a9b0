import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { orderPlacedEvent, placeOrder, ORDERS_DDL, type Order } from '../../../examples/orders/service.js';
import { ContractRegistry } from '../../contracts/registry.js';
import { KafkaPublisher } from '../../brokers/kafka.js';
import type { Publisher } from '../../brokers/publisher.js';
import { isHeraldError } from '../../errors.js';
import { consoleLogger } from '../../observe/logger.js';
import { migratePostgres, postgresOutboxStatus } from '../../outbox/postgres-migrate.js';
import { PostgresOutbox } from '../../outbox/postgres-outbox.js';
import { packageRoot } from '../../package-root.js';
import { PollingSource } from '../../relay/polling-source.js';
import { Relay } from '../../relay/relay.js';
import { DuckDbPublisher, queryDuckDb } from '../../warehouse/duckdb-publisher.js';
import { startEmbeddedPostgres } from '../embedded-postgres.js';
import { printResult, table } from '../output.js';

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
  seconds: number;
}

/**
 * `herald demo`: the example orders service writes orders with their events through the outbox,
 * some transactions roll back and one payload breaks its contract, while a relay delivers the
 * committed events to DuckDB (or Kafka). Ends with a summary and, for DuckDB, rows from the table.
 */
export async function demoCommand(flags: DemoFlags): Promise<void> {
  const log = consoleLogger({ quiet: flags.json === true });
  const started = Date.now();
  const dataDir = resolve(flags.dataDir);
  await mkdir(dataDir, { recursive: true });
  if (!Number.isInteger(flags.orders) || flags.orders < 1) throw new Error(`--orders must be a positive integer, got ${flags.orders}`);

  const embedded = flags.database ? undefined : await startEmbeddedPostgres({ dataDir: join(dataDir, 'postgres'), logger: log });
  const database = flags.database ?? embedded!.url;
  const db = new pg.Client({ connectionString: database });
  let relay: Relay | undefined;
  let source: PollingSource | undefined;
  let running: Promise<void> | undefined;
  try {
    await db.connect();
    log.info(embedded ? `embedded postgresql is up (data in ${join(flags.dataDir, 'postgres')})` : 'connected to postgresql');
    await migratePostgres(database);
    for (const ddl of ORDERS_DDL) await db.query(ddl);

    const contracts = await ContractRegistry.fromDir(join(packageRoot(), 'examples/orders/contracts'));
    const outbox = new PostgresOutbox({ contracts, source: '/examples/orders-service' });
    const warehouse = join(dataDir, 'warehouse.duckdb');
    const publisher: Publisher = flags.kafka
      ? new KafkaPublisher({ brokers: flags.kafka, createTopics: true })
      : new DuckDbPublisher({ path: warehouse });
    const destination = flags.kafka ? `kafka ${flags.kafka}` : `duckdb ${join(flags.dataDir, 'warehouse.duckdb')}`;
    await publisher.prepare(contracts.list().map((c) => c.topic));

    source = new PollingSource({ database, logger: log });
    relay = new Relay({ source, publisher, logger: log, pollIntervalMs: 500 });
    running = relay.run();
    log.info(`relay running: outbox -> ${destination}`);

    const counts = { eventsWritten: 0, rolledBack: 0, rejectedByContract: 0 };
    for (let i = 0; i < flags.orders; i++) {
      // Every 25th order carries a line with quantity 0, which the contract forbids: the service's
      // transaction fails at the append and rolls back, so neither the order nor an event exists.
      const order = sampleOrder(i);
      const invalid = i % 25 === 24;
      try {
        await placeOrder(
          db,
          outbox,
          invalid ? { ...order, lines: [...order.lines, { sku: 'GIFT-000', quantity: 0, unitPrice: 0 }] } : order,
        );
        counts.eventsWritten++;
      } catch (err) {
        if (!isHeraldError(err, 'EVENT_INVALID')) throw err;
        if (counts.rejectedByContract++ === 0) log.info(`refused by its contract, nothing written: ${err.message}`);
      }
      if (i % 50 === 49) log.info(`placed ${i + 1}/${flags.orders} orders, relay delivered ${relay.stats.delivered}`);
    }
    // A transaction that rolls back for a business reason, after the event was appended.
    await db.query('BEGIN');
    const rollbackOrder = sampleOrder(flags.orders);
    await outbox.append(db, 'orders.order-placed', orderPlacedEvent(rollbackOrder));
    await db.query('ROLLBACK');
    counts.rolledBack++;

    // Wait on the relay's own counters, then read the outbox; it is read again only if events of
    // an earlier, interrupted run are still pending.
    const deadline = Date.now() + 60_000;
    const pause = (): Promise<void> => new Promise((r) => setTimeout(r, 100));
    while (relay.stats.delivered + relay.stats.deadLettered < counts.eventsWritten && Date.now() < deadline) await pause();
    let status = await postgresOutboxStatus(database);
    while (status.pending > 0 && Date.now() < deadline) {
      await pause();
      status = await postgresOutboxStatus(database);
    }
    await relay.stop();
    await running;
    // Closing the source releases its buckets at once, so the next run need not wait for the lease.
    await source.close();
    await publisher.close();

    const summary: DemoSummary = {
      destination,
      ordersAttempted: flags.orders + 1,
      ...counts,
      delivered: relay.stats.delivered,
      pending: status.pending,
      deadLettered: status.deadLettered,
      seconds: Math.round((Date.now() - started) / 100) / 10,
    };
    const rows = flags.kafka
      ? []
      : await queryDuckDb(
          warehouse,
          `SELECT partition_key AS customer, count(*) AS orders, round(sum((data->>'total')::DOUBLE), 2) AS revenue
          FROM events WHERE topic = 'orders.order-placed.v1' GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5`,
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
        `dead-lettered           ${summary.deadLettered}`,
        `took                    ${summary.seconds}s`,
      ];
      if (rows.length > 0) {
        lines.push(
          '',
          'top customers in the warehouse (all demo runs):',
          table(
            ['customer', 'orders', 'revenue'],
            rows.map((r) => [String(r.customer), Number(r.orders), Number(r.revenue)]),
          ),
        );
      }
      return lines.join('\n');
    });
    if (summary.pending > 0 || summary.delivered !== summary.eventsWritten) process.exitCode = 1;
  } finally {
    if (relay) await relay.stop();
    await source?.close();
    await db.end().catch(() => undefined);
    await embedded?.stop();
  }
}

const SKUS = ['BOOK-001', 'MUG-002', 'PEN-003', 'LAMP-004', 'DESK-005'];

/** A deterministic order: 20 customers, one to three lines. */
function sampleOrder(i: number): Order {
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
