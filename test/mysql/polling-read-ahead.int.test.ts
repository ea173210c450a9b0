import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OutgoingEvent, Publisher } from '../../src/brokers/publisher.js';
import { migrateMysql } from '../../src/mysql/migrate.js';
import { MysqlOutbox } from '../../src/mysql/outbox.js';
import { MysqlPollingSource } from '../../src/mysql/polling-source.js';
import { mysqlStore } from '../../src/mysql/store.js';
import { Relay } from '../../src/relay/relay.js';
import type { RelayRecord } from '../../src/relay/source.js';
import { orderContracts, orderPlaced, seqOf } from '../support/contracts.js';
import { uniqueName, waitFor } from '../support/services.js';
import { MYSQL_URL, mysqlConnection } from './mysql-support.js';

const schema = uniqueName('herald_read_ahead');
const outbox = new MysqlOutbox({ contracts: orderContracts(), source: '/test', schema });
const store = mysqlStore(MYSQL_URL, { schema });
let db: mysql.Connection;

async function write(keys: string[], seqs: number): Promise<void> {
  for (let seq = 0; seq < seqs; seq++) {
    await db.beginTransaction();
    await outbox.appendMany(
      db,
      keys.map((k) => ({ contract: 'orders.order-placed', data: orderPlaced(k, seq) })),
    );
    await db.commit();
  }
}

const seqs = (records: readonly RelayRecord[]): number[] => records.map((r) => seqOf(r.outgoing.data));

beforeAll(async () => {
  db = await mysqlConnection();
  await migrateMysql(MYSQL_URL, { schema, buckets: 4 });
});
afterAll(async () => {
  await db.query(`DROP DATABASE IF EXISTS \`${schema}\``);
  await db.end();
});

describe('MysqlPollingSource: read ahead', () => {
  it('reads the rows after the ones in flight, in id order, and holds back a key waiting for a retry', async () => {
    const source = new MysqlPollingSource({ database: MYSQL_URL, schema });
    try {
      await source.start();
      await write(['alice'], 6);
      const first = await source.next(2);
      const second = await source.readAhead(2, first);
      const third = await source.readAhead(5, [...first, ...second]);
      expect([...seqs(first), ...seqs(second), ...seqs(third)]).toEqual([0, 1, 2, 3, 4, 5]);
      expect(() => source.checkLease([...second, ...third])).not.toThrow();
      await source.retryLater(first[0]!, 'refused', 60_000);
      expect(await source.readAhead(5, first)).toEqual([]);
      // Clean up for the next case: deliver what is left (the retry waits; dead-letter it).
      await source.deadLetter(first[0]!, 'test cleanup');
      await source.delivered(await source.next(10));
      expect((await store.status()).pending).toBe(0);
    } finally {
      await source.close();
    }
  });

  it('a pipelined relay drains a backlog in per-key commit order, with one publish at a time, and deletes every row', async () => {
    const keys = ['alice', 'bob', 'carol', 'dave'];
    await write(keys, 40);
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
    const source = new MysqlPollingSource({ database: MYSQL_URL, schema });
    let readsAhead = 0;
    const readAhead = source.readAhead.bind(source);
    source.readAhead = (max, records) => {
      readsAhead++;
      return readAhead(max, records);
    };
    const relay = new Relay({ source, publisher, batchSize: 7, pollIntervalMs: 100 });
    const running = relay.run();
    try {
      expect(await waitFor(async () => relay.stats.delivered >= 160, 30_000, 20)).toBe(true);
    } finally {
      await relay.stop();
      await running;
      await source.close();
    }
    expect(overlapped).toBe(false);
    expect(readsAhead).toBeGreaterThan(5);
    expect(seen).toHaveLength(160);
    for (const k of keys)
      expect(seen.filter((e) => e.event.partitionkey === k).map((e) => seqOf(e.data))).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect((await store.status()).pending).toBe(0);
  });
});
