import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { OutgoingEvent, Publisher } from '../../src/brokers/publisher.js';
import { ErrorCodes, HeraldError, isHeraldError } from '../../src/errors.js';
import { Relay } from '../../src/relay/relay.js';
import { SqlitePollingSource } from '../../src/sqlite/polling-source.js';
import { sqliteStore } from '../../src/sqlite/store.js';
import { orderContracts, orderPlaced, seqOf } from '../support/contracts.js';
import { waitFor } from '../support/services.js';
import { freshSqlite } from './sqlite-support.js';

const CONTRACT = 'orders.order-placed';

/** A publisher that records what it got and refuses what `refuse` says, the way a broker would. */
function recorder(refuse: (e: OutgoingEvent) => Error | undefined = () => undefined): Publisher & { got: OutgoingEvent[] } {
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

async function setup(buckets = 8) {
  const { file, url } = freshSqlite('poll');
  const store = sqliteStore(url, { buckets });
  await store.migrate();
  const db = new Database(file);
  const writer = store.writer({ contracts: orderContracts(), source: '/test' });
  const write = (keys: string[], seqs: number): void => {
    for (let seq = 0; seq < seqs; seq++) {
      db.transaction(() =>
        writer.appendManySync(
          db,
          keys.map((k) => ({ contract: CONTRACT, data: orderPlaced(k, seq) })),
        ),
      )();
    }
  };
  return { file, url, store, db, write, pending: async () => (await store.status()).pending };
}

async function run(source: SqlitePollingSource, publisher: Publisher, until: () => Promise<boolean>): Promise<Relay> {
  await source.start();
  const relay = new Relay({ source, publisher, pollIntervalMs: 50, retryBaseMs: 20, retryMaxMs: 50, maxAttempts: 3 });
  const running = relay.run();
  const ok = await waitFor(until, 20_000, 25);
  await relay.stop();
  await running;
  await source.close();
  expect(ok).toBe(true);
  return relay;
}

describe('sqlite polling source', () => {
  it('delivers every committed event in commit order per key and deletes it after the ack', async () => {
    const t = await setup();
    t.write(['a', 'b', 'c'], 10);
    const publisher = recorder();
    await run(new SqlitePollingSource({ database: t.url, leaseMs: 1000 }), publisher, async () => (await t.pending()) === 0);
    expect(publisher.got).toHaveLength(30);
    for (const key of ['a', 'b', 'c']) {
      expect(publisher.got.filter((o) => o.event.partitionkey === key).map((o) => seqOf(o.data))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    }
  });

  it('shares the buckets between four relays, one owner per bucket, and gives them back on close', async () => {
    const t = await setup(32);
    const sources = Array.from({ length: 4 }, () => new SqlitePollingSource({ database: t.url, leaseMs: 3000 }));
    for (const s of sources) await s.start();
    // The first round registers the relays (each sees those before it); leases are renewed every
    // third of leaseMs, so the second round, after that, settles on fair shares.
    for (const s of sources) await s.next(1);
    await new Promise((r) => setTimeout(r, 1100));
    for (const s of sources) await s.next(1);
    const rows = t.db.prepare('SELECT owner, COUNT(*) AS n FROM herald_relay_lease WHERE owner IS NOT NULL GROUP BY owner').all() as {
      owner: string;
      n: number;
    }[];
    const owners = Object.fromEntries(rows.map((r) => [r.owner, r.n]));
    expect(Object.keys(owners).sort()).toEqual(sources.map((s) => s.instanceId).sort());
    expect(Object.values(owners)).toEqual([8, 8, 8, 8]);
    expect((await t.store.status()).relays).toBe(4);
    for (const s of sources) await s.close();
    expect(t.db.prepare('SELECT COUNT(*) AS n FROM herald_relay_lease WHERE owner IS NOT NULL').get()).toEqual({ n: 0 });
    expect((await t.store.status()).relays).toBe(0);
  });

  it('holds back the rest of a key while one of its events waits for a retry, other keys continue, then dead-letters it', async () => {
    const t = await setup();
    t.write(['poison', 'fine'], 3);
    const poisonFirst = (
      t.db.prepare(`SELECT event_id FROM herald_outbox WHERE partition_key = 'poison' ORDER BY id LIMIT 1`).get() as {
        event_id: string;
      }
    ).event_id;
    const publisher = recorder((e) =>
      e.event.id === poisonFirst
        ? new HeraldError(ErrorCodes.PUBLISH_FAILED, 'broker refused: message too large', { retryable: true })
        : undefined,
    );
    const source = new SqlitePollingSource({ database: t.url, leaseMs: 1000 });
    await source.start();
    const relay = new Relay({ source, publisher, pollIntervalMs: 50, batchSize: 10, maxAttempts: 3, retryBaseMs: 200, retryMaxMs: 400 });
    const running = relay.run();
    expect(await waitFor(async () => publisher.got.filter((e) => e.event.partitionkey === 'fine').length === 3, 10_000, 25)).toBe(true);
    // While the first poison event waits, none of the later poison events went out.
    expect(publisher.got.filter((e) => e.event.partitionkey === 'poison')).toEqual([]);
    expect((await t.store.status()).topics[0]).toMatchObject({ retrying: 1 });
    expect(await waitFor(async () => (await t.pending()) === 0, 15_000, 50)).toBe(true);
    await relay.stop();
    await running;
    await source.close();
    expect(publisher.got.filter((e) => e.event.partitionkey === 'poison').map((e) => seqOf(e.data))).toEqual([1, 2]);
    expect(await t.store.deadLetters()).toMatchObject([
      { eventId: poisonFirst, attempts: 3, lastError: 'broker refused: message too large' },
    ]);
  });

  it('moves a refused event to the dead letters, and requeue brings it back with its id', async () => {
    const t = await setup();
    t.write(['dead'], 1);
    const refusing = recorder(() => Object.assign(new Error('schema registry said no'), { retryable: false }));
    await run(
      new SqlitePollingSource({ database: t.url, leaseMs: 1000 }),
      refusing,
      async () => (await t.store.status()).deadLettered === 1,
    );
    const [letter] = await t.store.deadLetters();
    expect(letter).toMatchObject({ partitionKey: 'dead', attempts: 1, topic: 'orders.order-placed.v1' });
    expect(letter!.lastError).toContain('schema registry said no');
    expect(Date.parse(letter!.failedAt)).toBeGreaterThan(Date.now() - 60_000);
    expect(await t.store.requeue(['no-such-id'])).toBe(0);
    expect(await t.store.requeue([letter!.eventId])).toBe(1);
    const publisher = recorder();
    await run(new SqlitePollingSource({ database: t.url, leaseMs: 1000 }), publisher, async () => publisher.got.length === 1);
    expect(publisher.got[0]!.event.id).toBe(letter!.eventId);
  });

  it("wakes up within tens of milliseconds when another connection commits (PRAGMA data_version), not at the poll's end", async () => {
    const t = await setup();
    const source = new SqlitePollingSource({ database: t.url });
    await source.start();
    const started = Date.now();
    setTimeout(() => t.write(['wake'], 1), 100);
    await source.waitForWork(5000, new AbortController().signal);
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(90);
    expect(waited).toBeLessThan(1000);
    await source.close();
  });

  it('refuses to start on a file that does not exist instead of creating an empty one', async () => {
    const { file, url } = freshSqlite('missing');
    const err = await new SqlitePollingSource({ database: url }).start().catch((e: Error) => e);
    expect(isHeraldError(err, ErrorCodes.NOT_MIGRATED)).toBe(true);
    expect((err as Error).message).toContain(`the sqlite file '${file}' does not exist`);
    await expect(import('node:fs').then((fs) => fs.existsSync(file))).resolves.toBe(false);
  });
});
