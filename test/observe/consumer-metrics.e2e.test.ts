import type { ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { KafkaPublisher } from '../../src/brokers/kafka/publisher.js';
import type { OutgoingEvent } from '../../src/brokers/publisher.js';
import { event } from '../../src/event.js';
import { orderPlaced } from '../support/contracts.js';
import { freePort, get, heraldLines, promtool, sample } from '../support/metrics.js';
import { KAFKA, PG_URL, createTopic, exited, pgClient, startHerald, uniqueName, waitFor } from '../support/services.js';

// Real `herald load --metrics` and `herald consume --metrics` processes (dist/, built first)
// against Kafka, DuckDB and PostgreSQL: the counters follow the work, promtool accepts the scrape.

const CONTRACTS = 'examples/orders/contracts';
const DATASCHEMA = 'urn:herald:contract:orders.order-placed:1.0.0';
const PII_KEY = '0123456789abcdef0123456789abcdef';

const children: ChildProcess[] = [];
const dirs: string[] = [];
const schemas: string[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});
afterAll(async () => {
  const db = await pgClient();
  for (const s of schemas) await db.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
  await db.end();
});

function orders(topic: string, n: number, from = 0): OutgoingEvent[] {
  return Array.from({ length: n }, (_, i) => {
    const { data, ...envelope } = event({
      source: '/orders',
      type: 'orders.order-placed',
      dataschema: DATASCHEMA,
      partitionkey: `cust-${(from + i) % 20}`,
      data: orderPlaced(`cust-${(from + i) % 20}`, from + i),
    });
    return { event: envelope, topic, data: JSON.stringify(data) };
  });
}

async function publish(events: OutgoingEvent[]): Promise<void> {
  // Idempotent, not transactional: the test expects lag 0 after the drain, and each transaction's commit marker
  // takes an offset that a non-Java consumer never commits past (a known lag-of-one per partition; see README).
  const publisher = new KafkaPublisher({ brokers: KAFKA, transactions: false });
  try {
    await publisher.publish(events);
  } finally {
    await publisher.close();
  }
}

async function started(args: string[]): Promise<{ child: ChildProcess & { log: string[] }; base: string; metrics: () => Promise<string> }> {
  const port = await freePort();
  const child = startHerald([...args, '--metrics', `127.0.0.1:${port}`, '--json'], { HERALD_PII_KEY: PII_KEY });
  children.push(child);
  const base = `http://127.0.0.1:${port}`;
  const up = await waitFor(async () => (await get(`${base}/healthz`)).status === 200, 20_000);
  expect(up, child.log.join('')).toBe(true);
  return { child, base, metrics: async () => (await get(`${base}/metrics`)).text };
}

describe('herald load --metrics', () => {
  it('counts rows per table, duplicates and dead letters as it loads Kafka into DuckDB, is ready, and passes promtool', async () => {
    const topic = uniqueName('metrics.load').replace('_', '.');
    await createTopic(topic);
    const dir = await mkdtemp(join(tmpdir(), 'herald-load-metrics-'));
    await chmod(dir, 0o755);
    dirs.push(dir);
    const { child, base, metrics } = await started([
      'load',
      '--broker',
      `kafka://${KAFKA}`,
      '--warehouse',
      `duckdb:${join(dir, 'w.duckdb')}`,
      '--contracts',
      CONTRACTS,
      '--topics',
      topic,
      '--group',
      uniqueName('g'),
      '--max-batch',
      '100',
      '--metrics-lag-interval',
      '100',
    ]);
    const ready = await waitFor(async () => (await get(`${base}/readyz`)).status === 200, 30_000);
    expect(ready, (await get(`${base}/readyz`)).text + child.log.join('')).toBe(true);
    expect(JSON.parse((await get(`${base}/readyz`)).text)).toMatchObject({
      status: 'ready',
      checks: { started: { ok: true }, broker: { ok: true }, warehouse: { ok: true } },
    });
    let text = await metrics();
    const labels = { warehouse: 'duckdb', table: 'orders_order_placed' };
    expect(sample(text, 'herald_load_rows_total', labels), heraldLines(text)).toBe(0);

    const good = orders(topic, 40);
    const broken = orders(topic, 2, 100).map((e) => ({ ...e, data: 'not json' }));
    // 40 rows, 10 copies of already-sent events (a relay replay), 2 that cannot load.
    await publish([...good, ...broken]);
    await publish(good.slice(0, 10));
    const done = await waitFor(async () => sample(await metrics(), 'herald_load_duplicates_total', labels) === 10, 30_000);
    text = await metrics();
    expect(done, heraldLines(text)).toBe(true);
    expect(sample(text, 'herald_load_rows_total', labels)).toBe(40);
    expect(sample(text, 'herald_load_dead_letters_total', { warehouse: 'duckdb', topic })).toBe(2);
    expect(sample(text, 'herald_load_events_received_total', { warehouse: 'duckdb' })).toBe(52);
    expect(sample(text, 'herald_load_write_duration_seconds_count', { warehouse: 'duckdb' })).toBeGreaterThanOrEqual(1);
    expect(text).toContain('process_cpu_seconds_total');
    // Bounded labels only: no event id or key ever becomes a label value.
    expect(text).not.toContain(good[0]!.event.id);
    expect(text).not.toContain('cust-');
    await expect(promtool(text)).resolves.toBe('');

    // The consumer lag: a burst shows up as messages behind the committed offsets, then drains to 0.
    const lagOf = async (): Promise<number | undefined> => sample(await metrics(), 'herald_consumer_lag_messages', { topic });
    expect(await lagOf()).toBe(0);
    await publish(orders(topic, 5_000, 1_000));
    const behind = await waitFor(async () => ((await lagOf()) ?? 0) > 0, 20_000, 50);
    expect(behind, heraldLines(await metrics())).toBe(true);
    const caughtUp = await waitFor(
      async () => sample(await metrics(), 'herald_load_rows_total', labels) === 5_040 && (await lagOf()) === 0,
      60_000,
    );
    expect(caughtUp, heraldLines(await metrics())).toBe(true);

    child.kill('SIGTERM');
    expect(await exited(child), child.log.join('')).toBe(0);
  });
});

describe('herald consume --metrics', () => {
  it('counts applied and skipped events per topic through the inbox, is ready, and passes promtool', async () => {
    const schema = uniqueName('consume_metrics');
    schemas.push(schema);
    const db = await pgClient();
    await db.query(`CREATE SCHEMA "${schema}"; CREATE TABLE "${schema}".orders (id text PRIMARY KEY, customer_id text NOT NULL)`);
    await db.end();
    const dir = await mkdtemp(join(tmpdir(), 'herald-consume-metrics-'));
    dirs.push(dir);
    const handlers = join(dir, 'handlers.mjs');
    await writeFile(
      handlers,
      `export const handlers = {
        'orders.order-placed': async (tx, event) => {
          await tx.query('INSERT INTO "${schema}".orders (id, customer_id) VALUES ($1, $2)', [event.data.orderId, event.data.customerId]);
        },
      };\n`,
    );
    const topic = uniqueName('metrics.consume').replace('_', '.');
    await createTopic(topic);
    const { child, base, metrics } = await started([
      'consume',
      '--broker',
      `kafka://${KAFKA}`,
      '--database',
      PG_URL,
      '--contracts',
      CONTRACTS,
      '--handlers',
      handlers,
      '--topics',
      topic,
      '--group',
      uniqueName('g'),
      '--inbox-schema',
      schema,
      '--max-wait',
      '200',
    ]);
    const ready = await waitFor(async () => (await get(`${base}/readyz`)).status === 200, 30_000);
    expect(ready, (await get(`${base}/readyz`)).text + child.log.join('')).toBe(true);
    expect(JSON.parse((await get(`${base}/readyz`)).text)).toMatchObject({
      checks: { started: { ok: true }, broker: { ok: true }, database: { ok: true } },
    });
    const events = orders(topic, 25);
    await publish(events);
    await publish(events.slice(0, 5));
    const labels = { store: 'postgres', topic };
    const done = await waitFor(async () => sample(await metrics(), 'herald_inbox_skipped_total', labels) === 5, 30_000);
    const text = await metrics();
    expect(done, heraldLines(text) + child.log.join('')).toBe(true);
    expect(sample(text, 'herald_inbox_applied_total', labels)).toBe(25);
    expect(sample(text, 'herald_inbox_dead_lettered_total', labels)).toBe(0);
    expect(sample(text, 'herald_consume_events_received_total', { store: 'postgres' })).toBe(30);
    expect(text).not.toContain(events[0]!.event.id);
    await expect(promtool(text)).resolves.toBe('');
    const check = await pgClient();
    const { rows } = await check.query(`SELECT count(*)::int AS n FROM "${schema}".orders`);
    await check.end();
    expect(rows[0]).toEqual({ n: 25 });

    child.kill('SIGTERM');
    expect(await exited(child), child.log.join('')).toBe(0);
  });
});
