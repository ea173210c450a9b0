import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { OutgoingEvent, Publisher } from '../../src/brokers/publisher.js';
import { migratePostgres, postgresOutboxStatus } from '../../src/postgres/migrate.js';
import { PostgresOutbox } from '../../src/postgres/outbox.js';
import { PollingSource } from '../../src/postgres/polling-source.js';
import { Relay } from '../../src/relay/relay.js';
import type { RelayRecord } from '../../src/relay/source.js';
import { orderContracts, orderPlaced, seqOf } from '../support/contracts.js';
import { PG_URL, pgClient, uniqueName, waitFor } from '../support/services.js';

let db: pg.Client;
let sources: PollingSource[] = [];
const schemas: string[] = [];

beforeAll(async () => {
  db = await pgClient();
});
afterEach(async () => {
  await Promise.all(sources.map((s) => s.close()));
  sources = [];
});
afterAll(async () => {
  for (const schema of schemas) await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await db.end();
});

async function setup(leaseMs = 15_000) {
  const schema = uniqueName('read_ahead');
  schemas.push(schema);
  await migratePostgres(PG_URL, { schema, buckets: 4 });
  const outbox = new PostgresOutbox({ contracts: orderContracts('orders.read-ahead'), source: '/read-ahead-test', schema });
  const write = async (events: Record<string, unknown>[]): Promise<void> => {
    await db.query('BEGIN');
    await outbox.appendMany(
      db,
      events.map((data) => ({ contract: 'orders.order-placed', data })),
    );
    await db.query('COMMIT');
  };
  const source = new PollingSource({ database: PG_URL, schema, leaseMs });
  sources.push(source);
  await source.start();
  return { schema, write, source };
}

const ids = (records: readonly RelayRecord[]): number[] => records.map((r) => Number(r.position));
const keyOf = (r: RelayRecord): string => r.outgoing.event.partitionkey;

describe('PostgreSQL polling source: read ahead', () => {
  it('reads the rows after the ones in flight, in id order, under the same leases, and holds back a key waiting for a retry', async () => {
    const t = await setup();
    await t.write(['alice', 'bob', 'alice', 'bob', 'carol', 'alice', 'bob', 'carol'].map((k, i) => orderPlaced(k, i)));
    const first = await t.source.next(2);
    const second = await t.source.readAhead(2, first);
    const third = await t.source.readAhead(3, [...first, ...second]);
    const all = [...first, ...second, ...third];
    expect(all.map((r) => seqOf(r.outgoing.data))).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(new Set(ids(all)).size).toBe(7);
    expect(ids(all)).toEqual([...ids(all)].sort((a, b) => a - b));
    for (const r of all) expect(r.lease?.epoch).toMatch(/^\d+$/);
    // The read-ahead rows pass the same lease check as those of next().
    expect(() => t.source.checkLease([...second, ...third])).not.toThrow();

    // A refused event holds back its key in a read ahead as in next().
    const aliceHead = first.find((r) => keyOf(r) === 'alice')!;
    await t.source.retryLater(aliceHead, 'refused', 60_000);
    const again = await t.source.readAhead(10, first);
    expect(again.map(keyOf)).not.toContain('alice');
    expect(again.map((r) => seqOf(r.outgoing.data))).toEqual([3, 4, 6, 7]);
  });

  it('reads nothing ahead while a lease renewal is due, so that no bucket with rows in flight is released under them', async () => {
    const t = await setup(600);
    await t.write(['alice', 'bob', 'carol', 'dave'].map((k, i) => orderPlaced(k, i)));
    const first = await t.source.next(2);
    expect(first).toHaveLength(2);
    // A third of the lease later a renewal is due: the read ahead returns nothing; next() renews and reads.
    await new Promise((r) => setTimeout(r, 250));
    expect(await t.source.readAhead(2, first)).toEqual([]);
    expect(ids(await t.source.next(4))).toHaveLength(4);
  });

  it('a pipelined relay drains a backlog in per-key commit order, with one publish at a time, and deletes every row', async () => {
    const t = await setup();
    const keys = ['alice', 'bob', 'carol', 'dave', 'erin'];
    const perKey = 60;
    for (let seq = 0; seq < perKey; seq += 10)
      await t.write(keys.flatMap((k) => Array.from({ length: 10 }, (_, i) => orderPlaced(k, seq + i))));
    const seen: OutgoingEvent[] = [];
    let inFlight = 0;
    let overlapped = false;
    const publisher: Publisher = {
      name: 'memory',
      prepare: async () => undefined,
      close: async () => undefined,
      async publish(batch) {
        if (inFlight++ > 0) overlapped = true;
        await new Promise((r) => setTimeout(r, 3));
        seen.push(...batch);
        inFlight--;
      },
    };
    let readsAhead = 0;
    const readAhead = t.source.readAhead.bind(t.source);
    t.source.readAhead = (max, records) => {
      readsAhead++;
      return readAhead(max, records);
    };
    const relay = new Relay({ source: t.source, publisher, batchSize: 7, pollIntervalMs: 100 });
    const running = relay.run();
    const total = keys.length * perKey;
    expect(await waitFor(async () => relay.stats.delivered >= total, 30_000, 20)).toBe(true);
    await relay.stop();
    await running;
    expect(overlapped).toBe(false);
    expect(readsAhead).toBeGreaterThan(10);
    expect(seen).toHaveLength(total);
    for (const k of keys)
      expect(seen.filter((e) => e.event.partitionkey === k).map((e) => seqOf(e.data))).toEqual(Array.from({ length: perKey }, (_, i) => i));
    expect((await postgresOutboxStatus(PG_URL, { schema: t.schema })).pending).toBe(0);
  });
});
