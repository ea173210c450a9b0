import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HeraldError, ErrorCodes } from '../../src/errors.js';
import type { OutgoingEvent, Publisher } from '../../src/brokers/publisher.js';
import { migrateMysql } from '../../src/mysql/migrate.js';
import { MysqlOutbox } from '../../src/mysql/outbox.js';
import { MysqlPollingSource } from '../../src/mysql/polling-source.js';
import { mysqlStore } from '../../src/mysql/store.js';
import { Relay } from '../../src/relay/relay.js';
import { orderContracts, orderPlaced, seqOf } from '../support/contracts.js';
import { uniqueName, waitFor } from '../support/services.js';
import { MYSQL_URL, mysqlConnection, rows } from './mysql-support.js';

const schema = uniqueName('herald_poll_test');
const outbox = new MysqlOutbox({ contracts: orderContracts(), source: '/test', schema });
const store = mysqlStore(MYSQL_URL, { schema });
let db: mysql.Connection;

/** A publisher that records what it got and refuses the events `refuse` says, the way a broker would. */
function recorder(refuse: (e: OutgoingEvent) => HeraldError | undefined = () => undefined): Publisher & { got: OutgoingEvent[] } {
  const got: OutgoingEvent[] = [];
  return {
    name: 'recorder',
    got,
    prepare: async () => undefined,
    publish: async (batch) => {
      for (const e of batch) {
        const err = refuse(e);
        if (err) throw err;
      }
      got.push(...batch);
    },
    close: async () => undefined,
  };
}

async function write(keys: string[], seqs: number): Promise<string[]> {
  const ids: string[] = [];
  for (let seq = 0; seq < seqs; seq++) {
    await db.beginTransaction();
    const events = await outbox.appendMany(
      db,
      keys.map((k) => ({ contract: 'orders.order-placed', data: orderPlaced(k, seq) })),
    );
    await db.commit();
    ids.push(...events.map((e) => e.id));
  }
  return ids;
}

const pending = async (): Promise<number> => (await store.status()).pending;

beforeAll(async () => {
  db = await mysqlConnection();
  await migrateMysql(MYSQL_URL, { schema, buckets: 8 });
});
afterAll(async () => {
  await db.query(`DROP DATABASE IF EXISTS \`${schema}\``);
  await db.end();
});

describe('MysqlPollingSource', () => {
  it('hands out committed events once, in id order per key, with the exact envelope, and deletes them after delivery', async () => {
    const ids = await write(['a', 'b', 'c'], 5);
    const written = (await rows(db, `SELECT event_id, time FROM \`${schema}\`.outbox ORDER BY id`)) as { event_id: string; time: string }[];
    const publisher = recorder();
    const source = store.pollingSource({ leaseMs: 3000 });
    const relay = new Relay({ source, publisher, pollIntervalMs: 100, batchSize: 4 });
    await source.start();
    const running = relay.run();
    expect(await waitFor(async () => (await pending()) === 0, 15_000)).toBe(true);
    await relay.stop();
    await running;
    await source.close();
    expect(publisher.got.map((e) => e.event.id)).toEqual(ids);
    // The time text comes back exactly as the writer made it.
    expect(publisher.got.map((e) => e.event.time)).toEqual(written.map((w) => w.time));
    for (const key of ['a', 'b', 'c'])
      expect(publisher.got.filter((e) => e.event.partitionkey === key).map((e) => seqOf(e.data))).toEqual([0, 1, 2, 3, 4]);
    expect(publisher.got[0]!.event).toMatchObject({
      specversion: '1.0',
      source: '/test',
      type: 'orders.order-placed',
      datacontenttype: 'application/json',
    });
    // Released at close: no bucket is still owned.
    expect(await rows(db, `SELECT bucket FROM \`${schema}\`.relay_lease WHERE owner IS NOT NULL`)).toEqual([]);
  });

  it("shares the buckets fairly between two relays and neither reads the other one's", async () => {
    const one = new MysqlPollingSource({ database: MYSQL_URL, schema, leaseMs: 2000 });
    const two = new MysqlPollingSource({ database: MYSQL_URL, schema, leaseMs: 2000 });
    try {
      await one.next(1);
      await two.next(1);
      // The first relay sees the second one at its next renewal and gives back half.
      await new Promise((r) => setTimeout(r, 800));
      await one.next(1);
      await two.next(1);
      const owners = await rows(
        db,
        `SELECT owner, COUNT(*) AS n FROM \`${schema}\`.relay_lease WHERE owner IS NOT NULL GROUP BY owner ORDER BY owner`,
      );
      expect(owners.map((o) => Number(o.n))).toEqual([4, 4]);
      expect(new Set(owners.map((o) => o.owner))).toEqual(new Set([one.instanceId, two.instanceId]));
    } finally {
      await one.close();
      await two.close();
    }
  });

  it('holds back the rest of a key while one of its events waits for a retry, other keys continue, then dead-letters it', async () => {
    const ids = await write(['poison', 'fine'], 3);
    const poisonFirst = ids[0]!;
    let refusals = 0;
    const publisher = recorder((e) => {
      if (e.event.id !== poisonFirst) return undefined;
      refusals++;
      return new HeraldError(ErrorCodes.PUBLISH_FAILED, 'broker refused: message too large', { retryable: true });
    });
    const source = store.pollingSource({ leaseMs: 3000 });
    const relay = new Relay({ source, publisher, pollIntervalMs: 50, batchSize: 10, maxAttempts: 3, retryBaseMs: 200, retryMaxMs: 400 });
    const running = relay.run();
    expect(await waitFor(async () => publisher.got.filter((e) => e.event.partitionkey === 'fine').length === 3, 10_000, 50)).toBe(true);
    // While the first poison event waits, none of the later poison events went out.
    expect(publisher.got.filter((e) => e.event.partitionkey === 'poison')).toEqual([]);
    const retrying = await store.status();
    expect(retrying.topics[0]).toMatchObject({ retrying: 1 });
    expect(await waitFor(async () => (await store.deadLetters()).length === 1, 15_000, 100)).toBe(true);
    expect(await waitFor(async () => (await pending()) === 0, 10_000, 100)).toBe(true);
    await relay.stop();
    await running;
    await source.close();
    // Each attempt is refused in its batch and again alone; three attempts were made.
    expect(refusals).toBeGreaterThanOrEqual(3);
    // After the dead letter, the rest of the key was delivered, in order.
    expect(publisher.got.filter((e) => e.event.partitionkey === 'poison').map((e) => seqOf(e.data))).toEqual([1, 2]);
    const [letter] = await store.deadLetters();
    expect(letter).toMatchObject({
      eventId: poisonFirst,
      partitionKey: 'poison',
      attempts: 3,
      lastError: 'broker refused: message too large',
    });
    expect(letter!.failedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    expect(await store.status()).toMatchObject({ pending: 0, deadLettered: 1 });

    // Requeue puts it back with its event id; the next relay delivers it.
    expect(await store.requeue(['00000000-0000-0000-0000-000000000000'])).toBe(0);
    expect(await store.requeue([poisonFirst])).toBe(1);
    expect(await store.status()).toMatchObject({ pending: 1, deadLettered: 0 });
    const again = recorder();
    const source2 = store.pollingSource({ leaseMs: 3000 });
    const relay2 = new Relay({ source: source2, publisher: again, pollIntervalMs: 50 });
    const running2 = relay2.run();
    expect(await waitFor(async () => (await pending()) === 0, 10_000, 100)).toBe(true);
    await relay2.stop();
    await running2;
    await source2.close();
    expect(again.got.map((e) => e.event.id)).toEqual([poisonFirst]);
  });

  it('moves an event refused as not retryable to the dead-letter table at once, and requeue with no ids moves all', async () => {
    const [id] = await write(['bad'], 1);
    const publisher = recorder(() => new HeraldError(ErrorCodes.PUBLISH_REJECTED, 'schema rejected'));
    const source = store.pollingSource({ leaseMs: 3000 });
    const relay = new Relay({ source, publisher, pollIntervalMs: 50 });
    const running = relay.run();
    expect(await waitFor(async () => (await store.deadLetters()).length === 1, 10_000, 100)).toBe(true);
    await relay.stop();
    await running;
    await source.close();
    expect((await store.deadLetters())[0]).toMatchObject({ eventId: id, attempts: 1, lastError: 'schema rejected' });
    expect(await store.requeue()).toBe(1);
    expect(await rows(db, `SELECT event_id, attempts FROM \`${schema}\`.outbox`)).toEqual([{ event_id: id, attempts: 0 }]);
    await db.query(`DELETE FROM \`${schema}\`.outbox`);
  });

  it('reconnects after its connection was killed and delivers what was written before and after', async () => {
    const publisher = recorder();
    const source = new MysqlPollingSource({ database: MYSQL_URL, schema, leaseMs: 3000 });
    const relay = new Relay({ source, publisher, pollIntervalMs: 100, retryBaseMs: 50, retryMaxMs: 200 });
    const running = relay.run();
    const before = await write(['re'], 2);
    expect(await waitFor(async () => publisher.got.length === 2, 10_000, 50)).toBe(true);
    // Kill the relay's own session, as a server restart or a network cut would drop it.
    const killed = source.connectionId;
    expect(killed).toBeGreaterThan(0);
    await db.query(`KILL ${Number(killed)}`);
    const after = await write(['re'], 2);
    expect(await waitFor(async () => publisher.got.length >= 4 && (await pending()) === 0, 15_000, 100)).toBe(true);
    await relay.stop();
    await running;
    await source.close();
    expect([...new Set(publisher.got.map((e) => e.event.id))]).toEqual([...before, ...after]);
    expect(source.connectionId === undefined || source.connectionId !== killed).toBe(true);
  });

  it('names host:port and never the password when the server is unreachable', async () => {
    const source = new MysqlPollingSource({ database: 'mysql://herald:s3cret-pw@127.0.0.1:1/app', schema });
    const err = (await source.start().catch((e: unknown) => e)) as HeraldError;
    expect(err.code).toBe('DATABASE_ERROR');
    expect(err.retryable).toBe(true);
    expect(err.message).toMatch(/cannot connect to mysql at 127\.0\.0\.1:1 .*is the server running/);
    expect(`${err.message} ${err.stack} ${JSON.stringify(err.details)}`).not.toContain('s3cret-pw');
    await source.close();
    expect(() => new MysqlPollingSource({ database: 'postgres://x@h/db', schema })).toThrow(
      /option 'database' must be a URL like mysql:\/\//,
    );
  });

  it('says to run migrate when the outbox does not exist', async () => {
    const source = new MysqlPollingSource({ database: MYSQL_URL, schema: uniqueName('nothing') });
    await expect(source.start()).rejects.toThrow(/run 'herald migrate' first/);
    await source.close();
  });
});
