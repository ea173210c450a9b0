import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { KafkaPublisher } from '../../src/brokers/kafka/publisher.js';
import type { Publisher } from '../../src/brokers/publisher.js';
import type { HeraldEvent } from '../../src/event.js';
import { migratePostgres } from '../../src/postgres/migrate.js';
import { PostgresOutbox } from '../../src/postgres/outbox.js';
import { EagerDispatcher, type EagerDispatcherOptions } from '../../src/postgres/eager-dispatch.js';
import { PollingSource } from '../../src/postgres/polling-source.js';
import { Relay } from '../../src/relay/relay.js';
import { orderContracts, orderPlaced, seqOf } from '../support/contracts.js';
import { KAFKA, PG_URL, createTopic, pgClient, readTopic, uniqueName, waitFor } from '../support/services.js';

let db: pg.Client;
let cleanup: (() => Promise<void>)[] = [];

beforeAll(async () => {
  db = await pgClient();
});
afterEach(async () => {
  // Relays first, so that no relay reads a schema that is being dropped.
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});
afterAll(async () => {
  await db.end();
});

function kafka(brokers: string = KAFKA): KafkaPublisher {
  const p = new KafkaPublisher({ brokers, ackTimeoutMs: 2000, timeoutMs: 500, retries: 0 });
  cleanup.push(() => p.close());
  return p;
}

/** A fresh outbox schema and topic, an outbox that holds its appends, and relays and dispatchers on them. */
async function setup(holdMs: number) {
  const schema = uniqueName('eager');
  const topic = uniqueName('eager.topic').replace('_', '.');
  await migratePostgres(PG_URL, { schema, buckets: 8 });
  cleanup.push(async () => void (await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)));
  await createTopic(topic);
  const outbox = new PostgresOutbox({ contracts: orderContracts(topic), source: '/eager-test', schema, holdMs });
  /** Appends in an open transaction; the caller commits (or "dies"). */
  const append = async (payloads: Record<string, unknown>[], options: { holdMs?: number } = {}): Promise<HeraldEvent[]> => {
    await db.query('BEGIN');
    return outbox.appendMany(
      db,
      payloads.map((data) => ({ contract: 'orders.order-placed', data })),
      options,
    );
  };
  const dispatcher = (publisher: Publisher = kafka(), options: Partial<EagerDispatcherOptions> = {}): EagerDispatcher => {
    const d = new EagerDispatcher({ database: PG_URL, schema, publisher, ...options });
    cleanup.push(() => d.close());
    return d;
  };
  /**
   * Starts a polling relay and waits until it owns its buckets. A short poll keeps it reading the
   * outbox all through a test; a long one shows that it was woken by a notification.
   */
  const startRelay = async (pollIntervalMs = 200): Promise<Relay> => {
    const relay = new Relay({
      source: new PollingSource({ database: PG_URL, schema, leaseMs: 6000 }),
      publisher: kafka(),
      retryBaseMs: 50,
      retryMaxMs: 500,
      pollIntervalMs,
    });
    const done = relay.run();
    cleanup.push(async () => {
      await relay.stop();
      await done;
    });
    await new Promise((r) => setTimeout(r, 1000));
    return relay;
  };
  const pending = async (): Promise<number> => Number((await db.query(`SELECT count(*) FROM "${schema}".outbox`)).rows[0].count);
  /** The event ids on the topic, with how often each arrived. */
  const arrivals = async (): Promise<Map<string, number>> => {
    const counts = new Map<string, number>();
    for (const m of await readTopic(topic)) counts.set(m.headers.ce_id!, (counts.get(m.headers.ce_id!) ?? 0) + 1);
    return counts;
  };
  return { schema, topic, outbox, append, dispatcher, startRelay, pending, arrivals };
}

const ids = (events: readonly HeraldEvent[]): string[] => events.map((e) => e.id);
const once = (events: readonly HeraldEvent[]): Map<string, number> => new Map(events.map((e) => [e.id, 1]));

describe('eager dispatch', () => {
  it('publishes the committed events at once, each exactly once, while a polling relay running beside it delivers none', async () => {
    const t = await setup(10_000);
    const relay = await t.startRelay();
    const events = await t.append(Array.from({ length: 20 }, (_, i) => orderPlaced(`fast-${i % 4}`, Math.floor(i / 4))));
    const result = await t.dispatcher().commitAndDispatch(db, events);

    expect(result).toEqual({ published: ids(events), released: [], left: [] });
    expect(await t.pending()).toBe(0);
    const messages = await readTopic(t.topic);
    expect(await t.arrivals()).toEqual(once(events));
    for (let k = 0; k < 4; k++) expect(messages.filter((m) => m.key === `fast-${k}`).map((m) => seqOf(m.payload))).toEqual([0, 1, 2, 3, 4]);
    // Give the relay, which reads the outbox every 200 ms, time to misbehave.
    await new Promise((r) => setTimeout(r, 1500));
    expect(relay.stats.delivered).toBe(0);
    expect(await t.arrivals()).toEqual(once(events));
  });

  it('hands the events to the relay at once when the eager publish fails, and the relay delivers each once', async () => {
    const t = await setup(60_000);
    // A 30 s poll: delivering much sooner means the dispatcher woke the relay when it released the rows.
    const relay = await t.startRelay(30_000);
    const events = await t.append(Array.from({ length: 10 }, (_, i) => orderPlaced(`fail-${i % 3}`, Math.floor(i / 3))));
    const committedAt = Date.now();
    const result = await t.dispatcher(kafka('127.0.0.1:1')).commitAndDispatch(db, events);

    expect(result).toMatchObject({ published: [], released: ids(events), left: [] });
    expect(result.error?.code).toBe('BROKER_UNAVAILABLE');
    expect(await waitFor(async () => (await t.pending()) === 0, 20_000, 100)).toBe(true);
    // Far sooner than the 60 s hold and the relay's 30 s poll: the rows were released and the relay woken.
    expect(Date.now() - committedAt).toBeLessThan(15_000);
    expect(relay.stats.delivered).toBe(10);
    expect(await t.arrivals()).toEqual(once(events));
    const messages = await readTopic(t.topic);
    for (let k = 0; k < 3; k++) {
      const seqs = messages.filter((m) => m.key === `fail-${k}`).map((m) => seqOf(m.payload));
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    }
  });

  it('loses nothing when the process dies after its commit: the relay delivers the events when the hold ends', async () => {
    const t = await setup(3_000);
    const relay = await t.startRelay();
    const appendedAt = Date.now();
    const events = await t.append(Array.from({ length: 6 }, (_, i) => orderPlaced(`crash-${i % 2}`, Math.floor(i / 2))));
    await db.query('COMMIT');
    // No dispatch: the service died right after COMMIT. The relay was notified but leaves the rows alone.
    await new Promise((r) => setTimeout(r, 1500));
    expect(await t.pending()).toBe(6);
    expect(relay.stats.delivered).toBe(0);

    expect(await waitFor(async () => (await t.pending()) === 0, 30_000, 100)).toBe(true);
    const tookMs = Date.now() - appendedAt;
    expect(tookMs).toBeGreaterThanOrEqual(3_000);
    // The hold, then at most about one poll of the relay.
    expect(tookMs).toBeLessThan(8_000);
    expect(relay.stats.delivered).toBe(6);
    expect(await t.arrivals()).toEqual(once(events));
  });

  it('defers to the relay when an older event of the same key is still in the outbox, so the topic keeps commit order', async () => {
    const t = await setup(30_000);
    // An older event of key 'ordered' that no relay has delivered yet (none is running).
    const older = await t.append([orderPlaced('ordered', 0)], { holdMs: 0 });
    await db.query('COMMIT');
    const newer = await t.append([orderPlaced('ordered', 1), orderPlaced('alone', 0), orderPlaced('ordered', 2)]);
    const result = await t.dispatcher().commitAndDispatch(db, newer);

    // The key with an older row goes to the relay; the key without one is published at once.
    expect(result).toEqual({ published: [newer[1]!.id], released: [newer[0]!.id, newer[2]!.id], left: [] });
    expect(await t.pending()).toBe(3);
    const relay = await t.startRelay();
    expect(await waitFor(async () => (await t.pending()) === 0, 20_000, 100)).toBe(true);
    expect(relay.stats.delivered).toBe(3);
    const messages = await readTopic(t.topic);
    expect(messages.filter((m) => m.key === 'ordered').map((m) => seqOf(m.payload))).toEqual([0, 1, 2]);
    expect(await t.arrivals()).toEqual(once([...older, ...newer]));
  });

  it('hands everything to the relay when the outbox holds a backlog longer than maxOlderRows', async () => {
    const t = await setup(30_000);
    const backlog = await t.append([orderPlaced('backlog-a', 0), orderPlaced('backlog-b', 0)], { holdMs: 0 });
    await db.query('COMMIT');
    const events = await t.append([orderPlaced('backlog-c', 0)]);
    const result = await t.dispatcher(kafka(), { maxOlderRows: 2 }).commitAndDispatch(db, events);
    // Key 'backlog-c' has no older row, but checking that would mean reading the whole backlog.
    expect(result).toEqual({ published: [], released: ids(events), left: [] });
    await t.startRelay();
    expect(await waitFor(async () => (await t.pending()) === 0, 20_000, 100)).toBe(true);
    expect(await t.arrivals()).toEqual(once([...backlog, ...events]));
  });

  it('leaves events whose hold ran out to the relay that already has them, so a late dispatch publishes nothing twice', async () => {
    const t = await setup(200);
    const relay = await t.startRelay();
    const events = await t.append([orderPlaced('late', 0), orderPlaced('late', 1)]);
    await db.query('COMMIT');
    expect(await waitFor(async () => relay.stats.delivered === 2, 20_000, 50)).toBe(true);
    const result = await t.dispatcher().dispatch(events);
    expect(result).toEqual({ published: [], released: [], left: ids(events) });
    expect(await t.arrivals()).toEqual(once(events));
  });

  it('refuses to run beside the logical relay, which would publish every held event a second time', async () => {
    const t = await setup(5_000);
    const publication = uniqueName('eager_pub');
    await db.query(`CREATE PUBLICATION "${publication}" FOR TABLE "${t.schema}".outbox WITH (publish = 'insert')`);
    cleanup.push(async () => void (await db.query(`DROP PUBLICATION IF EXISTS "${publication}"`)));
    const events = await t.append([orderPlaced('logical', 0)]);
    await expect(t.dispatcher().commitAndDispatch(db, events)).rejects.toThrow(
      `eager dispatch works with the polling relay only: the outbox table of schema '${t.schema}' is in publication '${publication}'`,
    );
    expect(() => new PostgresOutbox({ contracts: orderContracts(), source: '/eager-test', mode: 'wal', holdMs: 5000 })).toThrow(
      /option 'holdMs' needs mode 'table'/,
    );
  });

  it('rejects a COMMIT that PostgreSQL turned into a rollback, and dispatches nothing', async () => {
    const t = await setup(5_000);
    const events = await t.append([orderPlaced('rolled-back', 0)]);
    await db.query('SELECT 1/0').catch(() => undefined);
    await expect(t.dispatcher().commitAndDispatch(db, events)).rejects.toThrow(/the transaction was rolled back at COMMIT/);
    expect(await t.pending()).toBe(0);
  });
});
