import type { ChildProcess } from 'node:child_process';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { migratePostgres, postgresOutboxStatus } from '../../src/postgres/migrate.js';
import { PostgresOutbox } from '../../src/postgres/outbox.js';
import { firstSeqs, orderContracts, orderPlaced } from '../support/contracts.js';
import {
  KAFKA,
  PG_URL,
  createTopic,
  exited,
  pgClient,
  readTopic,
  startRelay,
  uniqueName,
  waitFor,
  type KcatMessage,
} from '../support/services.js';

const children: ChildProcess[] = [];
let db: pg.Client;
beforeAll(async () => {
  db = await pgClient();
});
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});
afterAll(async () => {
  await db.end();
});

async function setup() {
  const schema = uniqueName('proc');
  const topic = uniqueName('proc.topic').replace('_', '.');
  await migratePostgres(PG_URL, { schema });
  await createTopic(topic);
  const outbox = new PostgresOutbox({ contracts: orderContracts(topic), source: '/proc-test', schema });
  const relay = (): ChildProcess & { log: string[] } => {
    const child = startRelay([
      '--database',
      PG_URL,
      '--schema',
      schema,
      '--kafka',
      `kafka://${KAFKA}`,
      '--lease',
      '4000',
      '--poll-interval',
      '500',
      '--json',
    ]);
    children.push(child);
    return child;
  };
  const pending = async (): Promise<number> => (await postgresOutboxStatus(PG_URL, { schema })).pending;
  return { schema, topic, outbox, relay, pending };
}

/** Asserts that, per key, the first delivery of each event follows the given sequence. */
function expectKeyOrder(messages: KcatMessage[], keys: string[], expected: number[]): void {
  for (const key of keys) expect(firstSeqs(messages, key), `order of key ${key}`).toEqual(expected);
}

/** Stats a relay logged when it stopped (JSON log line 'relay stopped'). */
function stoppedStats(child: { log: string[] }): { delivered: number } | undefined {
  const line = child.log
    .join('')
    .split('\n')
    .find((l) => l.includes('"relay stopped"'));
  return line ? (JSON.parse(line) as { delivered: number }) : undefined;
}

describe('relay processes', () => {
  it('keeps per-key commit order with 4 relays, 8 writers, 10,000 events over 200 keys, and a late-committing low id', async () => {
    const t = await setup();
    const relays = [t.relay(), t.relay(), t.relay(), t.relay()];
    const keys = Array.from({ length: 200 }, (_, k) => `key-${k}`);

    // A long transaction takes a low id first and commits last; it must not be skipped.
    const late = await pgClient();
    await late.query('BEGIN');
    const lateEvent = await t.outbox.append(late, 'orders.order-placed', orderPlaced('late-key', 0));

    const writers = await Promise.all(Array.from({ length: 8 }, () => pgClient()));
    const written: string[] = [lateEvent.id];
    await Promise.all(
      writers.map(async (w, i) => {
        const mine = keys.filter((_, k) => k % 8 === i);
        for (let seq = 0; seq < 50; seq++) {
          for (const key of mine) {
            await w.query('BEGIN');
            written.push((await t.outbox.append(w, 'orders.order-placed', orderPlaced(key, seq))).id);
            await w.query('COMMIT');
          }
        }
      }),
    );
    await late.query('COMMIT');
    await Promise.all([...writers, late].map((w) => w.end()));
    expect(written).toHaveLength(10_001);

    expect(await waitFor(async () => (await t.pending()) === 0, 90_000, 500)).toBe(true);
    for (const r of relays) r.kill('SIGTERM');
    expect(await Promise.all(relays.map(exited))).toEqual([0, 0, 0, 0]);

    const messages = await readTopic(t.topic);
    expect(new Set(messages.map((m) => m.headers.ce_id))).toEqual(new Set(written));
    expectKeyOrder(
      messages,
      keys,
      Array.from({ length: 50 }, (_, i) => i),
    );
    // The work was really shared: more than one relay delivered events.
    const delivered = relays.map((r) => stoppedStats(r)?.delivered ?? 0);
    expect(delivered.filter((d) => d > 0).length).toBeGreaterThan(1);
    expect(delivered.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(10_001);
  });

  it('loses nothing when a relay is killed with SIGKILL mid-stream and another takes over', async () => {
    const t = await setup();
    const keys = Array.from({ length: 50 }, (_, k) => `crash-${k}`);
    const ids: string[] = [];
    for (let seq = 0; seq < 60; seq++) {
      await db.query('BEGIN');
      const events = await t.outbox.appendMany(
        db,
        keys.map((key) => ({ contract: 'orders.order-placed', data: orderPlaced(key, seq) })),
      );
      await db.query('COMMIT');
      ids.push(...events.map((e) => e.id));
    }
    const first = t.relay();
    expect(await waitFor(async () => (await t.pending()) < 3000 - 200, 30_000, 20)).toBe(true);
    first.kill('SIGKILL');
    expect(await exited(first)).toBe('SIGKILL');
    const left = await t.pending();
    expect(left).toBeGreaterThan(0);

    const second = t.relay();
    // The first may have drained nearly all before it stopped: wait until the second runs, so
    // the SIGTERM reaches a started relay and not a process still loading.
    expect(await waitFor(async () => second.log.join('').includes('relay started'), 30_000, 50), second.log.join('')).toBe(true);
    expect(await waitFor(async () => (await t.pending()) === 0, 60_000, 300)).toBe(true);
    second.kill('SIGTERM');
    expect(await exited(second)).toBe(0);

    const messages = await readTopic(t.topic);
    expect(new Set(messages.map((m) => m.headers.ce_id))).toEqual(new Set(ids));
    const duplicates = messages.length - ids.length;
    // Duplicates are possible only for the batch in flight when the relay died.
    expect(duplicates).toBeGreaterThanOrEqual(0);
    expect(duplicates).toBeLessThanOrEqual(500);
    console.info(`SIGKILL mid-stream: ${ids.length} events, ${duplicates} duplicates, ${left} were still pending at the kill`);
    expectKeyOrder(
      messages,
      keys,
      Array.from({ length: 60 }, (_, i) => i),
    );
  });

  it('drains and exits 0 on SIGTERM, and a restart delivers the rest without duplicates', async () => {
    const t = await setup();
    const ids: string[] = [];
    for (let seq = 0; seq < 40; seq++) {
      await db.query('BEGIN');
      const events = await t.outbox.appendMany(
        db,
        Array.from({ length: 50 }, (_, k) => ({ contract: 'orders.order-placed', data: orderPlaced(`term-${k}`, seq) })),
      );
      await db.query('COMMIT');
      ids.push(...events.map((e) => e.id));
    }
    const first = t.relay();
    expect(await waitFor(async () => (await t.pending()) < 2000, 30_000, 20)).toBe(true);
    first.kill('SIGTERM');
    expect(await exited(first)).toBe(0);
    expect(first.log.join('')).toContain('draining the batch in flight');

    const second = t.relay();
    // The first may have drained nearly all before it stopped: wait until the second runs, so
    // the SIGTERM reaches a started relay and not a process still loading.
    expect(await waitFor(async () => second.log.join('').includes('relay started'), 30_000, 50), second.log.join('')).toBe(true);
    expect(await waitFor(async () => (await t.pending()) === 0, 60_000, 300)).toBe(true);
    second.kill('SIGTERM');
    expect(await exited(second)).toBe(0);

    const messages = await readTopic(t.topic);
    expect(messages.map((m) => m.headers.ce_id).sort()).toEqual([...ids].sort());
  });
});
