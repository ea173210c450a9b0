// The README's quick start: append an event in your transaction, then relay it to Kafka.
import pg from 'pg';
import { ContractRegistry, PollingSource, PostgresOutbox, Relay, migratePostgres } from 'herald';
import { KafkaPublisher } from 'herald/kafka';

const url = process.env.HERALD_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
await migratePostgres(url); // idempotent: creates schema "herald" with the outbox tables
const contracts = await ContractRegistry.fromDir('examples/orders/contracts');
const outbox = new PostgresOutbox({ contracts, source: '/orders-service' });

const db = new pg.Client(url);
await db.connect();
await db.query('BEGIN'); // ...your business writes go here, in the same transaction...
const placed = await outbox.append(db, 'orders.order-placed', {
  orderId: crypto.randomUUID(),
  customerId: 'cust-42',
  total: 59.9,
  currency: 'EUR',
  placedAt: new Date().toISOString(),
  lines: [{ sku: 'BOOK-001', quantity: 1, unitPrice: 59.9 }],
});
await db.query('COMMIT'); // the event exists if and only if this commits
await db.end();

const kafka = new KafkaPublisher({ brokers: process.env.HERALD_KAFKA ?? 'kafka://127.0.0.1:9092', createTopics: true });
await kafka.prepare(['orders.order-placed.v1']);
const source = new PollingSource({ database: url });
const relay = new Relay({ source, publisher: kafka });
const running = relay.run(); // in production: `herald relay`, which also handles SIGTERM
while (relay.stats.delivered < 1) await new Promise((r) => setTimeout(r, 100));
await relay.stop();
await running;
await Promise.all([source.close(), kafka.close()]);
console.log(`delivered ${placed.id} to orders.order-placed.v1`);
