import type { ChildProcess } from 'node:child_process';
import type mysql from 'mysql2/promise';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mysqlOutboxStatus } from '../../src/mysql/migrate.js';
import { MysqlOutbox } from '../../src/mysql/outbox.js';
import { firstSeqs, orderContracts, orderPlaced } from '../support/contracts.js';
import { KAFKA, createTopic, exited, herald, readTopic, startRelay, uniqueName, waitFor, type KcatMessage } from '../support/services.js';
import { MYSQL_URL, mysqlConnection } from './mysql-support.js';

// Runs the built CLI (dist/): `npm run build --silent` first.
const children: ChildProcess[] = [];
const schemas: string[] = [];
let db: mysql.Connection;
beforeAll(async () => {
  db = await mysqlConnection();
});
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});
afterAll(async () => {
  for (const s of schemas) await db.query(`DROP DATABASE IF EXISTS \`${s}\``);
  await db.end();
});

async function setup() {
  const schema = uniqueName('herald_proc');
  schemas.push(schema);
  const topic = uniqueName('mysql.proc').replace('_', '.');
  // Through the CLI, as an operator would.
  const migrated = await herald(['migrate', '--database', MYSQL_URL, '--schema', schema, '--json']);
  expect(migrated.code, migrated.stderr).toBe(0);
  expect(JSON.parse(migrated.stdout)).toEqual({ schema, buckets: 32, created: true });
  await createTopic(topic);
  const outbox = new MysqlOutbox({ contracts: orderContracts(topic), source: '/mysql-proc-test', schema });
  const relay = (): ChildProcess & { log: string[] } => {
    const child = startRelay([
      '--database',
      MYSQL_URL,
      '--schema',
      schema,
      '--kafka',
      `kafka://${KAFKA}`,
      '--lease',
      '4000',
      '--poll-interval',
      '200',
      '--json',
    ]);
    children.push(child);
    return child;
  };
  const pending = async (): Promise<number> => (await mysqlOutboxStatus(MYSQL_URL, { schema })).pending;
  return { schema, topic, outbox, relay, pending };
}

function expectKeyOrder(messages: KcatMessage[], keys: string[], expected: number[]): void {
  for (const key of keys) expect(firstSeqs(messages, key), `order of key ${key}`).toEqual(expected);
}

function stoppedStats(child: { log: string[] }): { delivered: number } | undefined {
  const line = child.log
    .join('')
    .split('\n')
    .find((l) => l.includes('"relay stopped"'));
  return line ? (JSON.parse(line) as { delivered: number }) : undefined;
}

describe('herald relay on MySQL/MariaDB, as processes', () => {
  it('keeps per-key commit order with 4 relays, 8 writers, 5,000 events over 200 keys, and a late-committing low id', async () => {
    const t = await setup();
    const relays = [t.relay(), t.relay(), t.relay(), t.relay()];
    const keys = Array.from({ length: 200 }, (_, k) => `key-${k}`);
    // Under a loaded machine a relay process can take seconds to start, and a newcomer gets its
    // share only once the others have given buckets back: write only once all four hold buckets,
    // or the first could drain everything alone.
    const owners = async (): Promise<number> => {
      const [[row]] = (await db.query(
        `SELECT COUNT(DISTINCT owner) AS n FROM \`${t.schema}\`.relay_lease WHERE expires_at > UTC_TIMESTAMP(6)`,
      )) as unknown as [[{ n: number }]];
      return Number(row.n);
    };
    expect(await waitFor(async () => (await owners()) === 4, 60_000, 250)).toBe(true);

    // A long transaction takes a low id first and commits last; it must not be skipped.
    const late = await mysqlConnection();
    await late.beginTransaction();
    const lateEvent = await t.outbox.append(late, 'orders.order-placed', orderPlaced('late-key', 0));

    const writers = await Promise.all(Array.from({ length: 8 }, () => mysqlConnection()));
    const written: string[] = [lateEvent.id];
    await Promise.all(
      writers.map(async (w, i) => {
        const mine = keys.filter((_, k) => k % 8 === i);
        for (let seq = 0; seq < 25; seq++) {
          for (const key of mine) {
            await w.beginTransaction();
            written.push((await t.outbox.append(w, 'orders.order-placed', orderPlaced(key, seq))).id);
            await w.commit();
          }
        }
      }),
    );
    await late.commit();
    await Promise.all([...writers, late].map((w) => w.end()));
    expect(written).toHaveLength(5_001);

    expect(await waitFor(async () => (await t.pending()) === 0, 90_000, 500)).toBe(true);
    const status = await herald(['status', '--database', MYSQL_URL, '--schema', t.schema, '--json']);
    expect(JSON.parse(status.stdout)).toMatchObject({ pending: 0, deadLettered: 0, relays: 4 });
    for (const r of relays) r.kill('SIGTERM');
    expect(await Promise.all(relays.map(exited))).toEqual([0, 0, 0, 0]);

    const messages = await readTopic(t.topic);
    expect(new Set(messages.map((m) => m.headers.ce_id))).toEqual(new Set(written));
    expectKeyOrder(
      messages,
      keys,
      Array.from({ length: 25 }, (_, i) => i),
    );
    const delivered = relays.map((r) => stoppedStats(r)?.delivered ?? 0);
    expect(delivered.filter((d) => d > 0).length).toBeGreaterThan(1);
    expect(delivered.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(5_001);
  });

  it('loses nothing when a relay is killed with SIGKILL mid-stream and another takes over', async () => {
    const t = await setup();
    const keys = Array.from({ length: 50 }, (_, k) => `crash-${k}`);
    const ids: string[] = [];
    for (let seq = 0; seq < 60; seq++) {
      await db.beginTransaction();
      const events = await t.outbox.appendMany(
        db,
        keys.map((key) => ({ contract: 'orders.order-placed', data: orderPlaced(key, seq) })),
      );
      await db.commit();
      ids.push(...events.map((e) => e.id));
    }
    const first = t.relay();
    expect(await waitFor(async () => (await t.pending()) < 3000 - 200, 30_000, 20)).toBe(true);
    first.kill('SIGKILL');
    expect(await exited(first)).toBe('SIGKILL');
    const left = await t.pending();
    expect(left).toBeGreaterThan(0);

    const second = t.relay();
    expect(await waitFor(async () => (await t.pending()) === 0, 60_000, 300)).toBe(true);
    second.kill('SIGTERM');
    expect(await exited(second)).toBe(0);

    const messages = await readTopic(t.topic);
    expect(new Set(messages.map((m) => m.headers.ce_id))).toEqual(new Set(ids));
    const duplicates = messages.length - ids.length;
    expect(duplicates).toBeGreaterThanOrEqual(0);
    expect(duplicates).toBeLessThanOrEqual(500);
    console.info(`SIGKILL mid-stream: ${ids.length} events, ${duplicates} duplicates, ${left} were still pending at the kill`);
    expectKeyOrder(
      messages,
      keys,
      Array.from({ length: 60 }, (_, i) => i),
    );
  });

  it('lists and requeues dead letters through the CLI', async () => {
    const t = await setup();
    await db.beginTransaction();
    const [e] = await t.outbox.appendMany(db, [{ contract: 'orders.order-placed', data: orderPlaced('dl-1') }]);
    await db.commit();
    // Move it to the dead-letter table the way the relay does, then use the CLI on it.
    await db.query(
      `INSERT INTO \`${t.schema}\`.dead_letter (id, event_id, topic, partition_key, type, source, subject, time, dataschema, traceparent, data, created_at, attempts, last_error)
       SELECT id, event_id, topic, partition_key, type, source, subject, time, dataschema, traceparent, data, created_at, 10, 'refused' FROM \`${t.schema}\`.outbox`,
    );
    await db.query(`DELETE FROM \`${t.schema}\`.outbox`);
    const listed = await herald(['dead-letters', '--database', MYSQL_URL, '--schema', t.schema, '--json']);
    expect(JSON.parse(listed.stdout)).toMatchObject([{ eventId: e!.id, partitionKey: 'dl-1', attempts: 10, lastError: 'refused' }]);
    const requeued = await herald(['dead-letters', '--database', MYSQL_URL, '--schema', t.schema, '--requeue', '--json']);
    expect(JSON.parse(requeued.stdout)).toEqual({ requeued: 1 });
    const relay = t.relay();
    expect(await waitFor(async () => (await t.pending()) === 0, 30_000, 200)).toBe(true);
    relay.kill('SIGTERM');
    expect(await exited(relay)).toBe(0);
    expect((await readTopic(t.topic)).map((m) => m.headers.ce_id)).toEqual([e!.id]);
  });
});
