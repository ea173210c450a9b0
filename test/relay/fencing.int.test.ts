import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { KafkaPublisher } from '../../src/brokers/kafka/publisher.js';
import type { OutgoingEvent, Publisher } from '../../src/brokers/publisher.js';
import { ErrorCodes, isHeraldError } from '../../src/errors.js';
import { migratePostgres, postgresOutboxStatus } from '../../src/postgres/migrate.js';
import { PostgresOutbox } from '../../src/postgres/outbox.js';
import { PollingSource } from '../../src/postgres/polling-source.js';
import { Relay } from '../../src/relay/relay.js';
import type { RelayRecord } from '../../src/relay/source.js';
import { orderContracts, orderPlaced, seqOf } from '../support/contracts.js';
import { KAFKA, PG_URL, createTopic, pgClient, readTopic, uniqueName, waitFor } from '../support/services.js';

// A relay "stalls past its lease" here without signals: its publisher holds the first batch
// (after every check the relay makes before publishing, as a SIGSTOP at that instant would) until
// the test lets it go, by which time another relay has taken its buckets over.
const LEASE_MS = 1500;

let db: pg.Client;
let running: Relay[] = [];
let sources: PollingSource[] = [];
/** Releases every stalled publisher, so that a failed test still stops its relays. */
let releases: (() => void)[] = [];

beforeAll(async () => {
  db = await pgClient();
});
afterEach(async () => {
  for (const release of releases) release();
  releases = [];
  await Promise.all(running.map((r) => r.stop()));
  await Promise.all(sources.map((s) => s.close()));
  running = [];
  sources = [];
});
afterAll(async () => {
  await db.end();
});

/** A publisher that records what reaches it, as a broker without fencing would (RabbitMQ, NATS...). */
function recorder(): Publisher & { readonly seen: OutgoingEvent[] } {
  const seen: OutgoingEvent[] = [];
  return { name: 'memory', seen, prepare: async () => undefined, publish: async (b) => void seen.push(...b), close: async () => undefined };
}

/** Wraps a publisher so that its first publish call waits until `release()`; `fence` passes through. */
function stalling(inner: Publisher): { publisher: Publisher; release: () => void; held: () => readonly OutgoingEvent[] | undefined } {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  releases.push(release);
  let held: OutgoingEvent[] | undefined;
  const publisher: Publisher = {
    name: inner.name,
    prepare: (topics) => inner.prepare(topics),
    async publish(batch) {
      if (held === undefined) {
        held = [...batch];
        await released;
      }
      return inner.publish(batch);
    },
    ...(inner.fence ? { fence: (f: Parameters<NonNullable<Publisher['fence']>>[0]) => inner.fence!(f) } : {}),
    close: () => inner.close(),
  };
  return { publisher, release, held: () => held };
}

async function setup() {
  const schema = uniqueName('fencing');
  const topic = uniqueName('fencing.topic').replace('_', '.');
  await migratePostgres(PG_URL, { schema, buckets: 4 });
  const outbox = new PostgresOutbox({ contracts: orderContracts(topic), source: '/fencing-test', schema });
  const write = async (events: Record<string, unknown>[]): Promise<void> => {
    await db.query('BEGIN');
    await outbox.appendMany(
      db,
      events.map((data) => ({ contract: 'orders.order-placed', data })),
    );
    await db.query('COMMIT');
  };
  const source = (): PollingSource => {
    const s = new PollingSource({ database: PG_URL, schema, leaseMs: LEASE_MS });
    sources.push(s);
    return s;
  };
  const start = (publisher: Publisher, warnings: string[] = []): Relay => {
    const logger = {
      debug: () => undefined,
      info: () => undefined,
      error: () => undefined,
      warn: (_: string, f?: Record<string, unknown>) => void warnings.push(String(f?.error)),
    };
    const relay = new Relay({ source: source(), publisher, retryBaseMs: 50, retryMaxMs: 200, pollIntervalMs: 100, logger });
    running.push(relay);
    void relay.run();
    return relay;
  };
  const pending = async (): Promise<number> => (await postgresOutboxStatus(PG_URL, { schema })).pending;
  return { schema, topic, write, source, start, pending };
}

const keys = ['alice', 'bob', 'carol', 'dave'];

describe('fencing a relay that stalled past its lease', () => {
  it('records nothing when it wakes: the rows it read stay for the relay that took its buckets over', async () => {
    const t = await setup();
    await t.write(keys.flatMap((k) => [orderPlaced(k, 0), orderPlaced(k, 1)]));
    const seenA = recorder();
    const a = { ...stalling(seenA), seen: seenA.seen };
    const relayA = t.start(a.publisher);
    expect(await waitFor(async () => a.held() !== undefined, 10_000, 20)).toBe(true);
    // B's first batch is held too, so that rows A might delete are still there to be deleted.
    const b = stalling(recorder());
    const relayB = t.start(b.publisher);
    expect(await waitFor(async () => b.held() !== undefined, 20_000, 20)).toBe(true);
    expect(b.held()!.length).toBe(8);

    a.release();
    expect(await waitFor(async () => relayA.stats.batches > 0 || relayA.stats.leaseLost > 0, 10_000, 20)).toBe(true);
    expect(relayA.stats).toMatchObject({ delivered: 0, batches: 0, leaseLost: 1, retried: 0, deadLettered: 0 });
    // What remains possible without broker fencing: the stale batch reached the broker, late.
    expect(a.seen.length).toBe(8);
    expect(await t.pending()).toBe(8);

    b.release();
    expect(await waitFor(async () => (await t.pending()) === 0, 20_000)).toBe(true);
    expect(relayB.stats.delivered).toBe(8);
  });

  it('with Kafka transactions, the broker refuses its stale batch: a read_committed reader sees no key out of order', async () => {
    const t = await setup();
    await createTopic(t.topic);
    const kafka = (): KafkaPublisher => new KafkaPublisher({ brokers: KAFKA, ackTimeoutMs: 5000, timeoutMs: 2000, retries: 1 });
    await t.write(keys.map((k) => orderPlaced(k, 0)));
    const a = stalling(kafka());
    const warningsA: string[] = [];
    const relayA = t.start(a.publisher, warningsA);
    expect(await waitFor(async () => a.held() !== undefined, 15_000, 20)).toBe(true);

    const relayB = t.start(kafka());
    expect(await waitFor(async () => (await t.pending()) === 0, 30_000)).toBe(true);
    await t.write(keys.map((k) => orderPlaced(k, 1)));
    expect(await waitFor(async () => (await t.pending()) === 0, 20_000)).toBe(true);
    expect(relayB.stats.delivered).toBe(8);

    a.release();
    expect(await waitFor(async () => relayA.stats.batches > 0 || relayA.stats.leaseLost > 0, 20_000, 20)).toBe(true);
    expect(relayA.stats.delivered).toBe(0);
    // Refused by the broker itself: A had passed every check of its own before it stalled.
    expect(warningsA.join('\n')).toMatch(/kafka fenced this relay's producer/);

    // kcat is librdkafka, whose consumers read with isolation.level=read_committed by default.
    const messages = await readTopic(t.topic);
    for (const key of keys) {
      expect(
        messages.filter((m) => m.key === key).map((m) => seqOf(m.payload)),
        key,
      ).toEqual([0, 1]);
    }
  });
});

describe('PollingSource lease epochs', () => {
  /** Two sources on one outbox; `first` has read rows, then lost every bucket to `second`. */
  async function takenOver() {
    const t = await setup();
    await t.write(keys.map((k) => orderPlaced(k, 0)));
    const first = t.source();
    await first.start();
    const read = await first.next(100);
    expect(read.length).toBe(4);
    // As if `first` had stalled past its lease: its lease and its heartbeat are in the past.
    await db.query(`UPDATE "${t.schema}".relay_lease SET expires_at = now() - interval '1 second'`);
    await db.query(`UPDATE "${t.schema}".relay_instance SET seen_at = now() - interval '1 hour' WHERE id = $1`, [first.instanceId]);
    const second = t.source();
    await second.start();
    expect((await second.next(100)).length).toBe(4);
    return { t, first, second, read };
  }

  const leaseLost = (err: unknown): boolean => isHeraldError(err, ErrorCodes.LEASE_LOST) && err.retryable;

  it('bumps a bucket epoch on each change of owner, not on renewal', async () => {
    const { t, second } = await takenOver();
    const epochs = async (): Promise<string[]> =>
      (await db.query(`SELECT epoch::text FROM "${t.schema}".relay_lease ORDER BY bucket`)).rows.map((r: { epoch: string }) => r.epoch);
    // Claimed by the first relay (0 -> 1), then by the second (1 -> 2).
    expect(await epochs()).toEqual(['2', '2', '2', '2']);
    await db.query(`UPDATE "${t.schema}".relay_lease SET expires_at = now() - interval '1 second'`);
    await second.next(100);
    expect(await epochs()).toEqual(['2', '2', '2', '2']);
  });

  it('refuses to delete, reschedule or dead-letter under a lease that moved on, and changes no row', async () => {
    const { t, first, read } = await takenOver();
    const rowsBefore = (await db.query(`SELECT id, attempts, retry_at FROM "${t.schema}".outbox ORDER BY id`)).rows;
    await expect(first.delivered(read)).rejects.toSatisfy(leaseLost);
    await expect(first.retryLater(read[0]!, 'refused', 1000)).rejects.toSatisfy(leaseLost);
    await expect(first.deadLetter(read[1]!, 'refused')).rejects.toSatisfy(leaseLost);
    expect((await db.query(`SELECT id, attempts, retry_at FROM "${t.schema}".outbox ORDER BY id`)).rows).toEqual(rowsBefore);
    expect((await db.query(`SELECT count(*)::int AS n FROM "${t.schema}".dead_letter`)).rows[0].n).toBe(0);
  });

  it('refuses before publishing: by the local clock once the lease was lost, and by the database', async () => {
    const { first, read } = await takenOver();
    await expect(first.confirmLease(read)).rejects.toSatisfy(leaseLost);
    expect(() => first.checkLease(read)).toThrow(/no longer holds|lease ran out|no longer held/);
  });

  it('still refuses after the bucket came back to the same relay under a later epoch', async () => {
    const { t, first, second, read } = await takenOver();
    await second.close();
    await db.query(`UPDATE "${t.schema}".relay_lease SET expires_at = now() - interval '1 second'`);
    await first.confirmLease(read).catch(() => undefined); // forgets its leases, so it claims again
    const again = await first.next(100);
    expect(again.map((r) => r.position)).toEqual(read.map((r) => r.position));
    await expect(first.delivered(read)).rejects.toSatisfy(leaseLost);
    await first.delivered(again);
    expect(await t.pending()).toBe(0);
  });

  it('names the relay it took over as the one to fence, until told it is fenced', async () => {
    const { t, first, second } = await takenOver();
    const stale = `herald-${t.schema}-${first.instanceId}`;
    expect(second.fencing()).toEqual({ identity: `herald-${t.schema}-${second.instanceId}`, previous: [stale] });
    await second.fenced([stale]);
    expect(second.fencing().previous).toEqual([]);
    const { rows } = await db.query(`SELECT DISTINCT cardinality(stale_owners) AS n FROM "${t.schema}".relay_lease`);
    expect(rows).toEqual([{ n: 0 }]);
  });

  it('records as before while the lease is held', async () => {
    const t = await setup();
    await t.write(keys.map((k) => orderPlaced(k, 0)));
    const s = t.source();
    await s.start();
    const read: RelayRecord[] = await s.next(100);
    s.checkLease(read);
    await s.confirmLease(read);
    await s.retryLater(read[0]!, 'refused', 1);
    await s.deadLetter(read[1]!, 'refused');
    await s.delivered(read.slice(2));
    expect(await t.pending()).toBe(1);
  });
});
