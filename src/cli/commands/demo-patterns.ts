import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { ORDERS_DDL, insertOrder, orderPlacedEvent, type Order } from '../../../examples/orders/service.js';
import { applyOrderPlaced } from '../../../examples/orders/listen-handlers.js';
import { parseContract } from '../../contracts/load.js';
import { ContractRegistry } from '../../contracts/registry.js';
import { KafkaPublisher } from '../../brokers/kafka/publisher.js';
import { KafkaSubscriber } from '../../brokers/kafka/subscriber.js';
import { event, type HeraldEvent } from '../../event.js';
import { messageOf } from '../../errors.js';
import { consoleLogger, type Logger } from '../../observe/logger.js';
import { migratePostgres, postgresOutboxStatus } from '../../postgres/migrate.js';
import { PostgresOutbox } from '../../postgres/outbox.js';
import { packageRoot } from '../../package-root.js';
import { publishDirect } from '../../patterns/direct.js';
import { migrateInbox } from '../../postgres/inbox.js';
import { SelfConsumer } from '../../patterns/listen.js';
import { readKafkaEvents } from '../../patterns/reconcile-kafka.js';
import { LogicalSource } from '../../postgres/logical-source.js';
import { PollingSource } from '../../postgres/polling-source.js';
import { Relay } from '../../relay/relay.js';
import type { RelaySource } from '../../relay/source.js';
import { ChaosPublisher } from '../chaos-publisher.js';
import { loadFromKafkaUntil } from '../demo-loader.js';
import { startEmbeddedPostgres } from '../../postgres/embedded.js';
import { printResult, table } from '../output.js';
import { sampleOrder } from './demo.js';
import { runReconcile, type ReconcileRun } from '../../patterns/reconcile-run.js';

/** The publishing patterns `herald demo --pattern` runs. */
export const DemoPatterns = ['direct', 'outbox', 'logical', 'listen'] as const;

/** One of {@link DemoPatterns}. */
export type DemoPattern = (typeof DemoPatterns)[number];

/** Flags of `herald demo --pattern`. */
export interface PatternDemoFlags {
  pattern: DemoPattern;
  kafka: string;
  chaos?: boolean;
  database?: string;
  orders: number;
  dataDir: string;
  json?: boolean;
}

/** What one pattern run ended with. */
export interface PatternDemoSummary {
  pattern: DemoPattern;
  orders: number;
  /** Orders the service considers placed (committed; for listen: published and acknowledged). */
  placed: number;
  /** Orders the service refused because the publish failed first (listen only). */
  refused: number;
  /** direct: events whose publish failed after the commit (the service knows it diverged). */
  publishFailed: number;
  faults: { brokerDownMs: number; brokerRefusals: number; acksLost: number; crashesAfterCommit: number; consumerCrashes: number };
  /** listen: orders applied to the database, and how many of them more than once. */
  applied?: number;
  doubleApplied?: number;
  /** listen: redelivered events the inbox skipped. */
  skippedByInbox?: number;
  reconcile: ReconcileRun;
  seconds: number;
}

const CONTRACT_FILE = 'examples/orders/contracts/order-placed.v1.yaml';
const BROKER_DOWN_MS = 1_500;

/**
 * `herald demo --pattern direct|outbox|logical|listen [--chaos]`: the orders service publishing
 * with one pattern through real Kafka, optionally under a fault schedule, ending with the
 * reconcile table (service records vs Kafka vs a DuckDB warehouse loaded from Kafka).
 *
 * The faults are injected in this process (it cannot stop your broker): a publisher that is
 * "down" for a while (refuses with BROKER_UNAVAILABLE), one acknowledgement lost after delivery
 * (what a crash between the broker's ack and the bookkeeping looks like), for `direct` a crash
 * right after COMMIT (the publish never happens), and for `listen` a consumer that dies in the
 * middle of a batch (redelivery).
 */
export async function patternDemoCommand(flags: PatternDemoFlags): Promise<PatternDemoSummary> {
  const log = consoleLogger({ quiet: flags.json === true });
  const started = Date.now();
  const dataDir = resolve(flags.dataDir);
  await mkdir(dataDir, { recursive: true });
  const embedded = flags.database ? undefined : await startEmbeddedPostgres({ dataDir: join(dataDir, 'postgres'), logger: log });
  const suffix = randomBytes(3).toString('hex');
  const schema = `demo_${flags.pattern}_${suffix}`;
  const topic = `herald-demo-${flags.pattern}-${suffix}`;
  const root = flags.database ?? embedded!.url;
  // The service's tables live in their own schema; search_path makes the example's SQL find them.
  const url = new URL(root);
  url.searchParams.set('options', `-c search_path=${schema}`);
  const database = url.toString();
  const contracts = new ContractRegistry([
    parseContract(
      (await readFile(join(packageRoot(), CONTRACT_FILE), 'utf8')).replace('value: orders.order-placed.v1', `value: ${topic}`),
      CONTRACT_FILE,
    ),
  ]);
  const kafka = new KafkaPublisher({ brokers: flags.kafka, createTopics: true });
  const chaos = new ChaosPublisher(kafka);
  const faults = { brokerDownMs: 0, brokerRefusals: 0, acksLost: 0, crashesAfterCommit: 0, consumerCrashes: 0 };
  const db = new pg.Client({ connectionString: database });
  const cleanups: (() => Promise<unknown>)[] = [];
  try {
    await db.connect();
    await db.query(`CREATE SCHEMA ${schema}`);
    for (const ddl of ORDERS_DDL) await db.query(ddl);
    await db.query(
      `CREATE TABLE order_events (event_id uuid PRIMARY KEY, order_id uuid NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`,
    );
    await db.query(`CREATE TABLE customer_stats (customer_id text PRIMARY KEY, orders int NOT NULL)`);
    await chaos.prepare([topic]);
    log.info(
      `pattern ${flags.pattern}: ${flags.orders} orders to topic ${topic}, service schema ${schema}${flags.chaos ? ', with faults' : ''}`,
    );

    // The fault schedule, by order number.
    const downAt = Math.floor(flags.orders * 0.3);
    const ackLostAt = Math.floor(flags.orders * 0.6);
    const crashAfterCommit = (i: number): boolean => flags.chaos === true && flags.pattern === 'direct' && i % 20 === 10;
    const beforeOrder = (i: number): void => {
      if (!flags.chaos) return;
      if (i === downAt) {
        chaos.down(BROKER_DOWN_MS);
        faults.brokerDownMs = BROKER_DOWN_MS;
        log.info(`chaos: broker down for ${BROKER_DOWN_MS} ms`);
      }
      if (i === ackLostAt) {
        chaos.loseNextAck();
        log.info('chaos: the next acknowledgement will be lost');
      }
    };

    let placed = 0;
    let refused = 0;
    let publishFailed = 0;
    let applied: number | undefined;
    let doubleApplied: number | undefined;
    let skippedByInbox: number | undefined;
    if (flags.pattern === 'direct') {
      for (let i = 0; i < flags.orders; i++) {
        beforeOrder(i);
        const order = sampleOrder(i);
        const e = orderEvent(contracts, order);
        await inTransaction(db, async () => {
          await insertOrder(db, order);
          await db.query('INSERT INTO order_events (event_id, order_id) VALUES ($1, $2)', [e.id, order.orderId]);
        });
        placed++;
        if (crashAfterCommit(i)) {
          faults.crashesAfterCommit++;
          continue;
        }
        // Dual write: the commit happened; now the broker. A failure here is a divergence.
        await publishDirect(chaos, [e], { contracts, attempts: 3, retryBaseMs: 100, retryMaxMs: 300 }).catch((err: unknown) => {
          publishFailed++;
          log.warn(messageOf(err));
        });
      }
    } else if (flags.pattern === 'outbox' || flags.pattern === 'logical') {
      await migratePostgres(root, {
        schema,
        ...(flags.pattern === 'logical' ? { logical: { slot: `${schema}_relay`, publication: `${schema}_outbox` } } : {}),
      });
      if (flags.pattern === 'logical') {
        cleanups.push(async () => {
          await db.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1`, [`${schema}_relay`]);
          await db.query(`DROP PUBLICATION IF EXISTS ${schema}_outbox`);
        });
      }
      const outbox = new PostgresOutbox({ contracts, source: '/examples/orders-service', schema });
      const source: RelaySource =
        flags.pattern === 'logical'
          ? new LogicalSource({ database: root, schema, slot: `${schema}_relay`, publication: `${schema}_outbox`, logger: log })
          : new PollingSource({ database: root, schema, logger: log });
      await source.start();
      const relay = new Relay({ source, publisher: chaos, logger: log, pollIntervalMs: 200, retryBaseMs: 200, retryMaxMs: 1_000 });
      const running = relay.run();
      try {
        for (let i = 0; i < flags.orders; i++) {
          beforeOrder(i);
          const order = sampleOrder(i);
          await inTransaction(db, async () => {
            await insertOrder(db, order);
            const e = await outbox.append(db, 'orders.order-placed', orderPlacedEvent(order));
            await db.query('INSERT INTO order_events (event_id, order_id) VALUES ($1, $2)', [e.id, order.orderId]);
          });
          placed++;
        }
        const deadline = Date.now() + 60_000;
        while (Date.now() < deadline && (await postgresOutboxStatus(root, { schema })).pending > 0) await pause(200);
        // The logical relay also confirms its last batch; give it a moment before stopping.
        while (Date.now() < deadline && relay.stats.delivered < placed) await pause(100);
      } finally {
        await relay.stop();
        await running;
        await source.close();
      }
    } else {
      await migrateInbox(database, { schema });
      const group = `herald-demo-listen-${suffix}`;
      let crash = flags.chaos === true;
      const handlers = {
        'orders.order-placed': async (tx: pg.Client, e: HeraldEvent): Promise<void> => {
          if (crash && placed >= Math.floor(flags.orders * 0.5)) {
            crash = false;
            faults.consumerCrashes++;
            setImmediate(() => consumer.stop());
            // A lost connection is what a crash looks like from the database: retryable, not acked.
            throw Object.assign(new Error('chaos: the consumer died in the middle of a batch (injected)'), { code: '57P01' });
          }
          await applyOrderPlaced(tx, e);
          await tx.query(
            'INSERT INTO customer_stats (customer_id, orders) VALUES ($1, 1) ON CONFLICT (customer_id) DO UPDATE SET orders = customer_stats.orders + 1',
            [(e.data as { customerId: string }).customerId],
          );
        },
      };
      const subscribers: KafkaSubscriber[] = [];
      const consumers: SelfConsumer[] = [];
      const newConsumer = (): SelfConsumer => {
        const subscriber = new KafkaSubscriber({ brokers: flags.kafka, topics: [topic], group, maxBatch: 50 });
        subscribers.push(subscriber);
        const c = new SelfConsumer({ subscriber, database, consumer: group, handlers, contracts, inbox: { schema }, logger: log });
        consumers.push(c);
        return c;
      };
      // The subscribers are ours to close: one left open stays in the group and keeps its partitions.
      cleanups.push(() => Promise.all(subscribers.map((x) => x.close())));
      let consumer = newConsumer();
      let running = consumer.run();
      for (let i = 0; i < flags.orders; i++) {
        beforeOrder(i);
        const order = sampleOrder(i);
        const e = orderEvent(contracts, order);
        try {
          // Listen to yourself: publish first; the database changes when the event comes back.
          await publishDirect(chaos, [e], { contracts, attempts: 3, retryBaseMs: 100, retryMaxMs: 300 });
        } catch (err) {
          // Nothing was written: the customer is told the order failed. Consistent, not lost.
          refused++;
          log.warn(`order refused, the broker did not take its event: ${messageOf(err)}`);
          continue;
        }
        await db.query('INSERT INTO order_events (event_id, order_id) VALUES ($1, $2)', [e.id, order.orderId]);
        placed++;
      }
      const deadline = Date.now() + 60_000;
      const count = async (): Promise<number> => Number((await db.query('SELECT count(*) AS n FROM orders')).rows[0].n);
      while (Date.now() < deadline && (await count()) < placed) {
        const ended = await Promise.race([
          running.then(
            () => true,
            () => true,
          ),
          pause(200).then(() => false),
        ]);
        if (ended) {
          // The consumer "died" (chaos): start the next one on the same group, as a supervisor would.
          await consumer.close();
          await subscribers.at(-1)!.close();
          consumer = newConsumer();
          running = consumer.run();
        }
      }
      consumer.stop();
      await running;
      await consumer.close();
      skippedByInbox = consumers.reduce((sum, c) => sum + c.stats.duplicates, 0);
      applied = await count();
      const stats = await db.query('SELECT coalesce(sum(orders), 0) AS n FROM customer_stats');
      doubleApplied = Number(stats.rows[0].n) - applied;
    }
    faults.brokerRefusals = chaos.faults.refused;
    faults.acksLost = chaos.faults.acksLost;

    const warehouse = join(dataDir, `patterns-${flags.pattern}-${suffix}.duckdb`);
    await loadTopic(flags.kafka, topic, contracts, warehouse, log);
    const report = await runReconcile({
      database,
      expectedSql: `SELECT event_id::text AS id, 'orders.order-placed' AS contract, created_at AS time FROM ${schema}.order_events`,
      broker: flags.kafka,
      topics: [topic],
      warehouse: `duckdb:${warehouse}`,
      contracts: contracts.list(),
    });
    await rm(warehouse, { force: true });
    const summary: PatternDemoSummary = {
      pattern: flags.pattern,
      orders: flags.orders,
      placed,
      refused,
      publishFailed,
      faults,
      ...(applied === undefined ? {} : { applied, doubleApplied: doubleApplied!, skippedByInbox: skippedByInbox! }),
      reconcile: report,
      seconds: Math.round((Date.now() - started) / 100) / 10,
    };
    printResult(flags.json === true, summary, () => render(summary));
    return summary;
  } finally {
    for (const c of cleanups.reverse()) await c().catch((err: unknown) => log.warn(`cleanup: ${messageOf(err)}`));
    await db.end().catch(() => undefined);
    await chaos.close();
    await embedded?.stop();
  }
}

/** Loads the whole topic into a fresh DuckDB file with the warehouse loader. */
async function loadTopic(brokers: string, topic: string, contracts: ContractRegistry, file: string, logger: Logger): Promise<void> {
  const onTopic = (await readKafkaEvents({ brokers, topics: [topic] })).events.length;
  const group = `herald-demo-load-${randomUUID()}`;
  await loadFromKafkaUntil({ brokers, topics: [topic], group, file, contracts, logger }, (stats) => stats.received >= onTopic);
}

function render(s: PatternDemoSummary): string {
  const f = s.faults;
  const faultText =
    [
      f.brokerDownMs > 0 ? `broker down ${f.brokerDownMs} ms (${f.brokerRefusals} publish calls refused)` : '',
      f.acksLost > 0 ? `${f.acksLost} acknowledgement lost after delivery` : '',
      f.crashesAfterCommit > 0 ? `${f.crashesAfterCommit} crashes between COMMIT and publish` : '',
      f.consumerCrashes > 0 ? `${f.consumerCrashes} consumer crash mid-batch` : '',
    ]
      .filter(Boolean)
      .join(', ') || 'none';
  const rows = s.reconcile.sources.map((src) => [
    src.source,
    src.totals.expected,
    src.totals.observed,
    src.totals.missing,
    src.totals.duplicated,
    src.totals.unexpected,
  ]);
  const lines = [
    '',
    `pattern ${s.pattern}: ${s.orders} orders, ${s.placed} placed${s.refused ? `, ${s.refused} refused (broker down before anything was written)` : ''}`,
    `faults: ${faultText}`,
    '',
    table(['source', 'expected', 'observed', 'missing', 'duplicated', 'unexpected'], rows),
  ];
  if (s.publishFailed > 0) lines.push('', `publish failed after COMMIT: ${s.publishFailed} (the service logged each divergent event id)`);
  if (s.applied !== undefined) {
    lines.push(
      '',
      `applied to the database: ${s.applied} of ${s.placed}, applied twice: ${s.doubleApplied}, redeliveries skipped by the inbox: ${s.skippedByInbox}`,
    );
  }
  lines.push('', `took ${s.seconds}s`);
  return lines.join('\n');
}

async function inTransaction(db: pg.Client, work: () => Promise<void>): Promise<void> {
  await db.query('BEGIN');
  try {
    await work();
    await db.query('COMMIT');
  } catch (err) {
    await db.query('ROLLBACK');
    throw err;
  }
}

function orderEvent(contracts: ContractRegistry, order: Order): HeraldEvent {
  const c = contracts.get('orders.order-placed');
  const data = orderPlacedEvent(order);
  return event({ source: '/examples/orders-service', type: c.eventType, dataschema: c.dataschema, partitionkey: order.customerId, data });
}

function pause(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
