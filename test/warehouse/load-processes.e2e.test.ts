import { chmod, cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KafkaPublisher } from '../../src/brokers/kafka/publisher.js';
import type { OutgoingEvent } from '../../src/brokers/publisher.js';
import { event } from '../../src/event.js';
import { queryDuckDb } from '../../src/warehouse/duckdb-instance.js';
import { orderPlaced } from '../support/contracts.js';
import { KAFKA, PG_URL, createTopic, exited, herald, pgClient, startHerald, uniqueName, waitFor } from '../support/services.js';

const CONTRACTS = 'examples/orders/contracts';
const DATASCHEMA = 'urn:herald:contract:orders.order-placed:1.0.0';

/** Order-placed events for `topic`, as the relay would publish them. */
function orders(topic: string, n: number, from = 0): OutgoingEvent[] {
  return Array.from({ length: n }, (_, i) => {
    const { data, ...envelope } = event({
      source: '/orders',
      type: 'orders.order-placed',
      dataschema: DATASCHEMA,
      partitionkey: `cust-${(from + i) % 50}`,
      data: orderPlaced(`cust-${(from + i) % 50}`, from + i, { customerEmail: `canary-${from + i}@example.com` }),
    });
    return { event: envelope, topic, data: JSON.stringify(data) };
  });
}

async function publish(events: OutgoingEvent[]): Promise<void> {
  const publisher = new KafkaPublisher({ brokers: KAFKA });
  try {
    for (let i = 0; i < events.length; i += 1000) await publisher.publish(events.slice(i, i + 1000));
  } finally {
    await publisher.close();
  }
}

async function pgCount(schema: string): Promise<{ rows: number; ids: number }> {
  const c = await pgClient();
  try {
    const { rows } = await c.query(
      `SELECT count(*)::int AS rows, count(DISTINCT _event_id)::int AS ids FROM "${schema}".orders_order_placed`,
    );
    return rows[0] as { rows: number; ids: number };
  } catch {
    return { rows: 0, ids: 0 };
  } finally {
    await c.end();
  }
}

describe('herald load (processes, real Kafka)', () => {
  const schemas: string[] = [];
  afterAll(async () => {
    const c = await pgClient();
    for (const s of schemas) await c.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
    await c.end();
  });

  it('loads every event once into PostgreSQL after a SIGKILL mid-stream, a restart and a full redelivery', async () => {
    const topic = uniqueName('load.kill').replace('_', '.');
    const schema = uniqueName('wh_kill');
    schemas.push(schema);
    await createTopic(topic);
    const events = orders(topic, 20_000);
    await publish(events);
    const args = ['load', '--broker', `kafka://${KAFKA}`, '--warehouse', `${PG_URL}?schema=${schema}`, '--contracts', CONTRACTS];
    const common = [...args, '--topics', topic, '--group', uniqueName('g'), '--max-batch', '500'];

    const first = startHerald(common);
    expect(await waitFor(async () => (await pgCount(schema)).rows >= 2_000, 60_000, 50), first.log.join('')).toBe(true);
    first.kill('SIGKILL');
    await exited(first);
    const afterKill = await pgCount(schema);
    expect(afterKill.rows).toBeLessThan(events.length);

    // A relay replay: the broker gets every event a second time, same ids.
    await publish(events.slice(0, 5_000));
    const second = startHerald(common);
    expect(await waitFor(async () => (await pgCount(schema)).rows >= events.length, 90_000, 200), second.log.join('')).toBe(true);
    // Let it also consume the replayed copies before stopping it.
    await new Promise((r) => setTimeout(r, 3_000));
    second.kill('SIGTERM');
    expect(await exited(second)).toBe(0);
    expect(await pgCount(schema)).toEqual({ rows: events.length, ids: events.length });
    const stopped = second.log.join('');
    expect(stopped).toMatch(/loader stopped/);
    const stats = /loader stopped .*duplicates=(\d+)/.exec(stopped);
    expect(Number(stats?.[1])).toBeGreaterThanOrEqual(5_000);
  });

  it('loads into DuckDB, dead-letters what breaks the contract, and masks personal data', async () => {
    const topic = uniqueName('load.duck').replace('_', '.');
    await createTopic(topic);
    const dir = await mkdtemp(join(tmpdir(), 'herald-load-'));
    await chmod(dir, 0o755);
    const file = join(dir, 'w.duckdb');
    const good = orders(topic, 300);
    const broken = orders(topic, 3, 1000).map((e, i) => ({
      ...e,
      data: i === 0 ? '{"not":"an order"}' : i === 1 ? 'not json' : e.data.replace('"currency":"EUR"', '"currency":"euro"'),
    }));
    await publish([...good.slice(0, 150), ...broken, ...good.slice(150)]);
    const loader = startHerald([
      'load',
      '--broker',
      `kafka://${KAFKA}`,
      '--warehouse',
      `duckdb:${file}`,
      '--contracts',
      CONTRACTS,
      '--topics',
      topic,
      '--debug',
    ]);
    // DuckDB lets one process open the file, so progress is read from the loader's debug lines
    // and the table only after it stopped.
    const written = (): number =>
      [...loader.log.join('').matchAll(/loaded a batch .*inserted=(\d+) duplicates=\d+ deadLettered=(\d+)/g)].reduce(
        (sum, m) => sum + Number(m[1]) + Number(m[2]),
        0,
      );
    expect(await waitFor(async () => written() >= 303, 30_000, 100), loader.log.join('')).toBe(true);
    loader.kill('SIGTERM');
    expect(await exited(loader), loader.log.join('')).toBe(0);
    const [row] = await queryDuckDb(
      file,
      `SELECT count(*) AS n, count(*) FILTER (customer_email LIKE 'canary%') AS raw_emails FROM orders_order_placed`,
    );
    expect(row).toEqual({ n: 300, raw_emails: 0 });
    const dead = await queryDuckDb(file, `SELECT reason FROM herald_load_dead_letters ORDER BY reason`);
    expect(dead.map((d) => String(d.reason))).toEqual([
      expect.stringMatching(/version 1\.0\.0 is not JSON/),
      expect.stringMatching(/version 1\.0\.0 is invalid at \/currency: must match pattern/),
      expect.stringMatching(/version 1\.0\.0 is invalid at \/orderId: is required/),
    ]);
    expect(JSON.stringify(await queryDuckDb(file, 'SELECT * FROM herald_load_dead_letters'))).not.toContain('canary-');
  });

  it('refuses to start with a contract version its table cannot take, naming the contract and the change', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'herald-load-'));
    await chmod(dir, 0o755);
    const contracts = join(dir, 'contracts');
    await cp(CONTRACTS, contracts, { recursive: true });
    const topic = uniqueName('load.incompatible').replace('_', '.');
    await createTopic(topic);
    const warehouse = `duckdb:${join(dir, 'w.duckdb')}`;
    const args = ['load', '--broker', `kafka://${KAFKA}`, '--warehouse', warehouse, '--contracts', contracts, '--topics', topic];
    const first = startHerald(args);
    expect(await waitFor(async () => first.log.join('').includes('loader started'), 20_000, 100), first.log.join('')).toBe(true);
    first.kill('SIGTERM');
    expect(await exited(first), first.log.join('')).toBe(0);
    const v1 = await readFile(join(contracts, 'order-placed.v1.yaml'), 'utf8');
    await writeFile(
      join(contracts, 'order-placed.v2.yaml'),
      v1
        .replace('version: 1.0.0', 'version: 2.0.0')
        .replace(/- name: total\n(\s+)logicalType: number\n\s+physicalType: DECIMAL\(12,2\)/, '- name: total\n$1logicalType: integer'),
    );
    const refused = await herald(args);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /contract 'orders\.order-placed' version 2\.0\.0 cannot load into warehouse table 'orders_order_placed': column 'total' changes from decimal\(12,2\) to bigint/,
    );
  });
});
