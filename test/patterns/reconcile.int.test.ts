import { chmod, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { KafkaPublisher } from '../../src/brokers/kafka/publisher.js';
import type { OutgoingEvent } from '../../src/brokers/publisher.js';
import type { IncomingEvent } from '../../src/brokers/subscriber.js';
import { reconcileCommand } from '../../src/cli/commands/reconcile.js';
import type { ReconcileRun } from '../../src/patterns/reconcile-run.js';
import type { ContractRegistry } from '../../src/contracts/registry.js';
import { event } from '../../src/event.js';
import { readExpectedEvents } from '../../src/patterns/reconcile-expected.js';
import { readKafkaEvents } from '../../src/patterns/reconcile-kafka.js';
import { readWarehouseEvents } from '../../src/patterns/reconcile-warehouse.js';
import { reconcile } from '../../src/patterns/reconcile.js';
import { DuckDbSink } from '../../src/warehouse/duckdb-sink.js';
import { PostgresSink } from '../../src/warehouse/postgres-sink.js';
import { RowBuilder } from '../../src/warehouse/rows.js';
import { planTables } from '../../src/warehouse/table-plan.js';
import { orderContracts, orderPlaced } from '../support/contracts.js';
import { KAFKA, PG_URL, pgClient, uniqueName } from '../support/services.js';

const CONTRACT = 'orders.order-placed';
const T0 = Date.UTC(2026, 0, 31, 10, 0, 0);
const MIN = 60_000;
const N = 24;

/**
 * One scenario shared by the tests: 24 expected orders in PostgreSQL, 5 minutes apart (10:00 to
 * 11:55, so two hourly windows); on Kafka all but 3, two of them twice, plus one id that is not
 * expected; in DuckDB a subset, one dead-lettered, plus the unexpected one.
 */
const schema = uniqueName('reconcile');
const warehouseSchema = uniqueName('reconcile_wh');
const topic = uniqueName('reconcile').replace('_', '.');
let dir = '';
let warehouseFile = '';
let contractsDir = '';
let contracts: ContractRegistry;
const ids: string[] = Array.from({ length: N }, () => uuidv7());
const time = (i: number): number => T0 + i * 5 * MIN;
const EXPECTED_SQL = `SELECT event_id AS id, '${CONTRACT}' AS contract, created_at AS time FROM ${schema}.orders`;

// Index 11 is at 10:55, 12 at 11:00: the window boundary falls between them.
const kafkaMissing = [ids[0]!, ids[12]!, ids[23]!];
const kafkaTwice = [ids[11]!, ids[13]!];
const unexpected = uuidv7();
// The warehouse got everything Kafka has, except these (not loaded yet), and one dead letter.
const warehouseSkipped = [ids[5]!, ids[17]!];
const deadLettered = ids[6]!;

function outgoing(id: string, ms: number, data: Record<string, unknown>): OutgoingEvent {
  const e = event({
    id,
    source: '/reconcile-test',
    type: CONTRACT,
    time: new Date(ms),
    partitionkey: String(data.customerId),
    dataschema: `urn:herald:contract:${CONTRACT}:1.0.0`,
    data,
  });
  return { topic, event: e, data: JSON.stringify(data) };
}

function incoming(o: OutgoingEvent, position: string): IncomingEvent {
  const attributes: Record<string, string> = {};
  for (const [k, v] of Object.entries(o.event)) if (typeof v === 'string') attributes[k] = v;
  return { topic: o.topic, position, attributes, data: o.data };
}

const sorted = (list: readonly string[]): string[] => [...list].sort();

beforeAll(async () => {
  const pg = await pgClient();
  try {
    await pg.query(`CREATE SCHEMA ${schema}`);
    await pg.query(`CREATE TABLE ${schema}.orders (order_id serial PRIMARY KEY, event_id text NOT NULL, created_at timestamptz NOT NULL)`);
    for (let i = 0; i < N; i++) {
      await pg.query(`INSERT INTO ${schema}.orders (event_id, created_at) VALUES ($1, $2)`, [ids[i], new Date(time(i))]);
    }
  } finally {
    await pg.end();
  }

  contracts = orderContracts(topic);
  const events = ids.map((id, i) => outgoing(id, time(i) + 7, orderPlaced(`cust-${i % 3}`, i)));
  const stray = outgoing(unexpected, time(20) + 30_000, orderPlaced('cust-x', 99));
  // Idempotent, not transactional: the test sums end offsets, and each transaction's commit marker takes an offset too.
  const publisher = new KafkaPublisher({ brokers: KAFKA, createTopics: true, transactions: false });
  try {
    await publisher.prepare([topic]);
    const published = events.filter((e) => !kafkaMissing.includes(e.event.id));
    await publisher.publish([...published, stray]);
    // A relay that crashed after the broker's ack and before its bookkeeping sends these again.
    await publisher.publish(events.filter((e) => kafkaTwice.includes(e.event.id)));
  } finally {
    await publisher.close();
  }

  dir = await mkdtemp(join(tmpdir(), 'herald-reconcile-'));
  await chmod(dir, 0o755);
  warehouseFile = join(dir, 'warehouse.duckdb');
  const toLoad = events
    .filter((e) => !kafkaMissing.includes(e.event.id) && !warehouseSkipped.includes(e.event.id))
    .map((e) => (e.event.id === deadLettered ? { ...e, data: '{"orderId":"not a uuid"}' } : e))
    .map((e, i) => incoming(e, `0:${i}`));
  // The same events go into a DuckDB file and a PostgreSQL warehouse schema.
  for (const sink of [new DuckDbSink({ path: warehouseFile }), new PostgresSink({ url: PG_URL, schema: warehouseSchema })]) {
    try {
      const plans = await sink.prepare(planTables(contracts.list()));
      const batch = new RowBuilder(contracts, plans, undefined).build([...toLoad, incoming(stray, '1:0')]);
      expect(batch.deadLetters.map((d) => d.id)).toEqual([deadLettered]);
      await sink.write(batch);
    } finally {
      await sink.close();
    }
  }

  // The command reads a contract folder: the example contract, routed to this test's topic.
  contractsDir = join(dir, 'contracts');
  await mkdir(contractsDir);
  const text = await readFile('examples/orders/contracts/order-placed.v1.yaml', 'utf8');
  await writeFile(join(contractsDir, 'order-placed.v1.yaml'), text.replace('value: orders.order-placed.v1', `value: ${topic}`));
});

afterAll(async () => {
  const pg = await pgClient();
  try {
    await pg.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await pg.query(`DROP SCHEMA IF EXISTS ${warehouseSchema} CASCADE`);
  } finally {
    await pg.end();
  }
});

describe('reconcile against real PostgreSQL, Kafka and DuckDB', () => {
  it('finds exactly the missing, duplicated, unexpected and dead-lettered ids in the broker and the warehouse', async () => {
    const expected = await readExpectedEvents({ database: PG_URL, sql: EXPECTED_SQL });
    expect(expected).toHaveLength(N);
    const kafka = await readKafkaEvents({ brokers: `kafka://${KAFKA}`, topics: [topic] });
    expect(kafka.messages).toBe(N - 3 + 1 + 2);
    // Read up to the end offsets taken at the start, which hold exactly what was published.
    expect(
      Object.values(kafka.endOffsets)
        .flat()
        .reduce((sum, o) => sum + Number(o), 0),
    ).toBe(kafka.messages);
    expect(kafka.events.every((e) => e.contract === CONTRACT && e.type === CONTRACT && /^\d+:\d+$/.test(e.position!))).toBe(true);
    const warehouse = await readWarehouseEvents({ warehouse: `duckdb:${warehouseFile}`, contracts: contracts.list() });
    expect(warehouse.tables).toEqual(['orders_order_placed']);
    expect(warehouse.deadLetters).toBe(1);

    const report = reconcile(expected, { kafka: kafka.events, warehouse: warehouse.events });
    expect(report.ok).toBe(false);
    const [k, w] = report.sources;
    expect(k!.groups).toHaveLength(1);
    const kg = k!.groups[0]!;
    expect(kg.contract).toBe(CONTRACT);
    expect(kg.missing).toEqual(sorted(kafkaMissing));
    expect(kg.duplicated).toEqual(sorted(kafkaTwice));
    expect(kg.unexpected).toEqual([unexpected]);
    expect(kg.deadLettered).toEqual([]);
    expect(kg.counts).toEqual({ expected: N, observed: N - 3 + 1, missing: 3, duplicated: 2, unexpected: 1, deadLettered: 0 });
    for (const id of kafkaTwice) {
      expect(kg.duplicatePositions[id]).toHaveLength(2);
      expect(new Set(kg.duplicatePositions[id]).size).toBe(2);
    }

    expect(w!.groups).toHaveLength(1);
    const wg = w!.groups[0]!;
    expect(wg.missing).toEqual(sorted([...kafkaMissing, ...warehouseSkipped, deadLettered]));
    expect(wg.duplicated).toEqual([]);
    expect(wg.unexpected).toEqual([unexpected]);
    expect(wg.deadLettered).toEqual([deadLettered]);
    expect(wg.counts).toEqual({ expected: N, observed: N - 6 + 1, missing: 6, duplicated: 0, unexpected: 1, deadLettered: 1 });
  });

  it('splits the findings by hourly window, by the time the database recorded', async () => {
    const expected = await readExpectedEvents({ database: PG_URL, sql: EXPECTED_SQL });
    const kafka = await readKafkaEvents({ brokers: KAFKA, topics: [topic] });
    const report = reconcile(expected, { kafka: kafka.events }, { window: '1h' });
    const groups = report.sources[0]!.groups;
    expect(groups.map((g) => [g.window?.start, g.counts.expected, g.missing, g.duplicated, g.unexpected])).toEqual([
      ['2026-01-31T10:00:00.000Z', 12, [ids[0]], [ids[11]], []],
      ['2026-01-31T11:00:00.000Z', 12, sorted([ids[12]!, ids[23]!]), [ids[13]], [unexpected]],
    ]);
  });

  it('reads a PostgreSQL warehouse the same way, finding its tables by their _event_id column when no contracts are given', async () => {
    const expected = await readExpectedEvents({ database: PG_URL, sql: EXPECTED_SQL });
    const warehouse = await readWarehouseEvents({ warehouse: `${PG_URL}?schema=${warehouseSchema}` });
    expect(warehouse).toMatchObject({ tables: ['orders_order_placed'], rows: N - 6 + 1, deadLetters: 1 });
    const [w] = reconcile(expected, { warehouse: warehouse.events }).sources;
    expect(w!.groups.map((g) => [g.contract, g.missing, g.duplicated, g.unexpected, g.deadLettered])).toEqual([
      [CONTRACT, sorted([...kafkaMissing, ...warehouseSkipped, deadLettered]), [], [unexpected], [deadLettered]],
    ]);
    await expect(readWarehouseEvents({ warehouse: `${PG_URL}?schema=Bad-Name` })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });

  it('herald reconcile prints the JSON report and sets exit code 1 when anything is off', async () => {
    const { run, stdout, exitCode } = await command({
      database: PG_URL,
      expectedSql: EXPECTED_SQL,
      broker: `kafka://${KAFKA}`,
      warehouse: `duckdb:${warehouseFile}`,
      contracts: contractsDir,
      window: '1h',
      json: true,
    });
    expect(exitCode).toBe(1);
    const printed = JSON.parse(stdout) as ReconcileRun;
    expect(printed).toEqual(JSON.parse(JSON.stringify(run)));
    expect(printed.ok).toBe(false);
    expect(printed.window).toBe('1h');
    expect(printed.inputs).toMatchObject({
      expectedRows: N,
      kafka: { topics: [topic], messages: N },
      warehouse: { tables: ['orders_order_placed'], rows: N - 6 + 1, deadLetters: 1 },
    });
    expect(printed.sources.map((s) => [s.source, s.ok, s.totals])).toEqual([
      ['kafka', false, { expected: N, observed: N - 2, missing: 3, duplicated: 2, unexpected: 1, deadLettered: 0 }],
      ['warehouse', false, { expected: N, observed: N - 5, missing: 6, duplicated: 0, unexpected: 1, deadLettered: 1 }],
    ]);
    expect(printed.sources[1]!.groups.flatMap((g) => g.deadLettered)).toEqual([deadLettered]);
    expect(printed.sources[0]!.groups.flatMap((g) => g.missing)).toEqual([ids[0], ...sorted([ids[12]!, ids[23]!])]);
  });

  it('herald reconcile prints tables and ids for people, and exits 0 when the sources agree within --since/--until', async () => {
    const human = await command({
      database: PG_URL,
      expectedSql: EXPECTED_SQL,
      broker: `kafka://${KAFKA}`,
      topics: [topic],
      warehouse: `duckdb:${warehouseFile}`,
    });
    expect(human.exitCode).toBe(1);
    expect(human.stdout).toMatch(/^kafka: 24 message\(s\)/m);
    expect(human.stdout).toMatch(/contract\s+window\s+expected\s+observed\s+missing\s+duplicated\s+unexpected\s+dead-lettered/);
    expect(human.stdout).toContain(`missing (3): ${sorted(kafkaMissing).join(', ')}`);
    expect(human.stdout).toContain(`unexpected (1): ${unexpected}`);
    expect(human.stdout).toContain(`dead-lettered (1): ${deadLettered}`);
    expect(human.stdout).toContain('kafka: 3 missing, 2 duplicated, 1 unexpected');

    // From 10:05 up to (not including) 10:55, Kafka holds every expected event once, and the
    // unexpected one lies outside: a clean run.
    const clean = await command({
      database: PG_URL,
      expectedSql: EXPECTED_SQL,
      broker: `kafka://${KAFKA}`,
      topics: [topic],
      since: new Date(time(1)).toISOString(),
      until: new Date(time(11)).toISOString(),
      json: true,
    });
    expect(clean.exitCode).toBe(0);
    expect(clean.run.ok).toBe(true);
    expect(clean.run.expected).toBe(10);
  });

  it('reads the expected events read-only: a query that writes, or smuggles a second statement, is refused and changes nothing', async () => {
    await expect(
      readExpectedEvents({ database: PG_URL, sql: `DELETE FROM ${schema}.orders RETURNING event_id AS id` }),
    ).rejects.toMatchObject({
      code: 'DATABASE_ERROR',
      message: expect.stringContaining('read-only'),
    });
    await expect(
      readExpectedEvents({ database: PG_URL, sql: `SELECT 1 AS id, 'c' AS contract, now() AS time; COMMIT; DELETE FROM ${schema}.orders` }),
    ).rejects.toMatchObject({ code: 'DATABASE_ERROR' });
    await expect(
      readExpectedEvents({ database: PG_URL, sql: `SELECT event_id, created_at AS time FROM ${schema}.orders` }),
    ).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringMatching(/lacks id, contract \(or type\)/),
    });
    expect(await readExpectedEvents({ database: PG_URL, sql: EXPECTED_SQL })).toHaveLength(N);
  });

  it('reports an unreachable broker as BROKER_UNAVAILABLE and an unknown topic as TOPIC_NOT_FOUND', async () => {
    await expect(
      readKafkaEvents({ brokers: '127.0.0.1:1', topics: [topic], requestTimeoutMs: 500, retries: 0, timeoutMs: 5_000 }),
    ).rejects.toMatchObject({ code: 'BROKER_UNAVAILABLE', retryable: true });
    const missing = uniqueName('missing').replace('_', '.');
    await expect(readKafkaEvents({ brokers: KAFKA, topics: [topic, missing] })).rejects.toMatchObject({
      code: 'TOPIC_NOT_FOUND',
      message: expect.stringContaining(`kafka topic '${missing}' does not exist`),
    });
  });
});

/** Runs the command, capturing stdout and the exit code it sets (then restoring both). */
async function command(flags: Parameters<typeof reconcileCommand>[0]): Promise<{ run: ReconcileRun; stdout: string; exitCode: number }> {
  const chunks: string[] = [];
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  });
  const before = process.exitCode;
  process.exitCode = 0;
  try {
    const run = await reconcileCommand(flags);
    return { run, stdout: chunks.join(''), exitCode: Number(process.exitCode ?? 0) };
  } finally {
    write.mockRestore();
    process.exitCode = before;
  }
}
