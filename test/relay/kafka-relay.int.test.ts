import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { KafkaPublisher } from '../../src/brokers/kafka/publisher.js';
import type { Publisher } from '../../src/brokers/publisher.js';
import { HeraldError } from '../../src/errors.js';
import { migratePostgres, postgresOutboxStatus } from '../../src/postgres/migrate.js';
import { PostgresOutbox } from '../../src/postgres/outbox.js';
import { PollingSource } from '../../src/postgres/polling-source.js';
import { Relay, type RelayOptions } from '../../src/relay/relay.js';
import { orderContracts, orderPlaced, seqOf } from '../support/contracts.js';
import {
  KAFKA,
  PG_URL,
  createTopic,
  pgClient,
  readTopic,
  restartPostgresCluster,
  services,
  uniqueName,
  waitFor,
} from '../support/services.js';

let db: pg.Client;
let running: Relay[] = [];

beforeAll(async () => {
  db = await pgClient();
});
afterEach(async () => {
  await Promise.all(running.map((r) => r.stop()));
  running = [];
});
afterAll(async () => {
  await db.end();
});

/** Restarts PostgreSQL; this suite's own connection goes with it. */
async function restartPostgres(): Promise<void> {
  await db.end().catch(() => undefined);
  await restartPostgresCluster();
}

/** A fresh outbox schema and topic, with an outbox writer and a way to start relays on them. */
async function setup(topicConfigs: Record<string, string> = {}) {
  const schema = uniqueName('relay');
  const topic = uniqueName('relay.topic').replace('_', '.');
  await migratePostgres(PG_URL, { schema, buckets: 8 });
  await createTopic(topic, topicConfigs);
  const outbox = new PostgresOutbox({ contracts: orderContracts(topic), source: '/relay-test', schema });
  const write = async (events: Record<string, unknown>[], commit = true): Promise<string[]> => {
    await db.query('BEGIN');
    const written = await outbox.appendMany(
      db,
      events.map((data) => ({ contract: 'orders.order-placed', data })),
    );
    await db.query(commit ? 'COMMIT' : 'ROLLBACK');
    return written.map((e) => e.id);
  };
  const start = (
    options: Partial<RelayOptions> = {},
    publisher: Publisher = new KafkaPublisher({ brokers: KAFKA, ackTimeoutMs: 3000, timeoutMs: 1000, retries: 1 }),
  ) => {
    const relay = new Relay({
      source: new PollingSource({ database: PG_URL, schema, leaseMs: 6000 }),
      publisher,
      retryBaseMs: 50,
      retryMaxMs: 500,
      pollIntervalMs: 200,
      ...options,
    });
    running.push(relay);
    const done = relay.run();
    return { relay, done };
  };
  const pending = async (): Promise<number> => (await postgresOutboxStatus(PG_URL, { schema })).pending;
  return { schema, topic, write, start, pending };
}

describe('relay to Kafka', () => {
  it('publishes exactly the committed events, once, with key and CloudEvents headers a non-Herald consumer reads', async () => {
    const t = await setup();
    const committed = await t.write([orderPlaced('alice', 0), orderPlaced('bob', 0), orderPlaced('alice', 1)]);
    const rolledBack = await t.write([orderPlaced('carol', 0)], false);
    t.start();
    expect(await waitFor(async () => (await t.pending()) === 0, 20_000)).toBe(true);

    const messages = await readTopic(t.topic);
    expect(messages.map((m) => m.headers.ce_id).sort()).toEqual([...committed].sort());
    expect(messages.map((m) => m.headers.ce_id)).not.toContain(rolledBack[0]);
    const first = messages.find((m) => m.headers.ce_id === committed[0])!;
    expect(first.key).toBe('alice');
    expect(first.headers).toMatchObject({
      'content-type': 'application/json',
      ce_specversion: '1.0',
      ce_source: '/relay-test',
      ce_type: 'orders.order-placed',
      ce_dataschema: 'urn:herald:contract:orders.order-placed:1.0.0',
      ce_partitionkey: 'alice',
    });
    expect(new Date(first.headers.ce_time!).getTime()).toBeGreaterThan(0);
    expect(JSON.parse(first.payload)).toMatchObject({ customerId: 'alice', currency: 'EUR' });
    const alice = messages.filter((m) => m.key === 'alice');
    expect(new Set(alice.map((m) => m.partition)).size).toBe(1);
    expect(alice.map((m) => seqOf(m.payload))).toEqual([0, 1]);
  });

  it('is woken by NOTIFY: an event arrives long before the safety-net poll', async () => {
    const t = await setup();
    const { relay } = t.start({ pollIntervalMs: 60_000 });
    // Let the relay claim its buckets and go to sleep on the long poll.
    await new Promise((r) => setTimeout(r, 1500));
    const started = Date.now();
    await t.write([orderPlaced('notify', 0)]);
    expect(await waitFor(async () => relay.stats.delivered === 1, 10_000, 20)).toBe(true);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('delivers a batch the broker refused in part without duplicates: the stored partitions count, the oversized event is dead-lettered, per-key order holds', async () => {
    // max.message.bytes limits one partition's record batch: the healthy partitions of the batch
    // fit, the partition holding the oversized event is refused (MESSAGE_TOO_LARGE) as a whole.
    const t = await setup({ 'max.message.bytes': '8000' });
    const big = orderPlaced('poison', 1, {
      lines: Array.from({ length: 400 }, (_, i) => ({ sku: `seq-1-${i}`, quantity: 1, unitPrice: 1 })),
    });
    const keys = Array.from({ length: 6 }, (_, k) => `healthy-${k}`);
    const ids = await t.write([
      orderPlaced('poison', 0),
      big,
      orderPlaced('poison', 2),
      ...Array.from({ length: 18 }, (_, i) => orderPlaced(keys[i % keys.length]!, Math.floor(i / keys.length))),
    ]);
    const { relay } = t.start();
    expect(await waitFor(async () => (await t.pending()) === 0, 30_000)).toBe(true);

    const { rows } = await db.query(`SELECT event_id::text AS id, attempts, last_error FROM "${t.schema}".dead_letter`);
    expect(rows).toHaveLength(1);
    expect(rows[0].id).toBe(ids[1]);
    expect(rows[0].last_error).toMatch(/rejected by the broker/);
    const messages = await readTopic(t.topic);
    // The keys spread over several partitions, so the refused request stored some of them.
    expect(new Set(messages.map((m) => m.partition)).size).toBeGreaterThan(1);
    // Every event but the refused one, each exactly once: nothing the broker stored was sent again.
    const seen = messages.map((m) => m.headers.ce_id);
    expect([...seen].sort()).toEqual(ids.filter((id) => id !== ids[1]).sort());
    expect(relay.stats.delivered).toBe(ids.length - 1);
    expect(messages.filter((m) => m.key === 'poison').map((m) => seqOf(m.payload))).toEqual([0, 2]);
    for (const key of keys) expect(messages.filter((m) => m.key === key).map((m) => seqOf(m.payload))).toEqual([0, 1, 2]);
  });

  it('retries a refused event with backoff and dead-letters it after maxAttempts, holding back only its key', async () => {
    const t = await setup();
    const ids = await t.write([orderPlaced('flaky', 0), orderPlaced('flaky', 1), orderPlaced('steady', 0)]);
    const kafka = new KafkaPublisher({ brokers: KAFKA });
    const calls: number[] = [];
    // Refuses the first event of 'flaky' every time, as a broker with a persistent per-record error would.
    const refusing: Publisher = {
      name: 'refusing',
      prepare: (topics) => kafka.prepare(topics),
      publish: async (batch) => {
        if (batch.some((e) => e.event.id === ids[0])) {
          if (batch.length === 1) calls.push(Date.now());
          throw new HeraldError('PUBLISH_FAILED', 'not leader for partition', { retryable: true });
        }
        await kafka.publish(batch);
      },
      close: () => kafka.close(),
    };
    t.start({ maxAttempts: 4 }, refusing);
    expect(await waitFor(async () => (await t.pending()) === 0, 30_000)).toBe(true);

    const { rows } = await db.query(`SELECT event_id::text AS id, attempts, last_error FROM "${t.schema}".dead_letter`);
    expect(rows).toEqual([{ id: ids[0], attempts: 4, last_error: 'not leader for partition' }]);
    const messages = await readTopic(t.topic);
    // 'flaky' seq 1 was held back until seq 0 left the outbox, so it is the only 'flaky' message.
    expect(messages.map((m) => m.headers.ce_id).sort()).toEqual([ids[1], ids[2]].sort());
    // Each isolated retry waited longer than the one before (exponential backoff).
    const gaps = calls.slice(1).map((c, i) => c - calls[i]!);
    expect(gaps.length).toBeGreaterThanOrEqual(3);
    expect(gaps.at(-1)!).toBeGreaterThan(gaps[0]! / 2);
  });

  it('survives a PostgreSQL restart: the relay reconnects and delivers what was written before and after', async () => {
    const t = await setup();
    const { relay, done } = t.start();
    const before = await t.write(Array.from({ length: 50 }, (_, i) => orderPlaced(`pg-${i % 5}`, Math.floor(i / 5))));
    expect(await waitFor(async () => relay.stats.delivered === 50, 20_000)).toBe(true);
    await restartPostgres();
    db = await pgClient();
    const after = await t.write(Array.from({ length: 50 }, (_, i) => orderPlaced(`pg-${i % 5}`, 10 + Math.floor(i / 5))));
    expect(await waitFor(async () => (await t.pending()) === 0, 60_000, 500)).toBe(true);
    const messages = await readTopic(t.topic);
    expect(new Set(messages.map((m) => m.headers.ce_id))).toEqual(new Set([...before, ...after]));
    // The relay kept running through the restart instead of failing.
    expect(await Promise.race([done.then(() => 'stopped'), new Promise((r) => setTimeout(() => r('running'), 100))])).toBe('running');
  });

  it('keeps events while Kafka is down and delivers them all once it is back', async () => {
    const t = await setup();
    const { relay } = t.start();
    await services('kafka-stop');
    try {
      const ids = await t.write(Array.from({ length: 200 }, (_, i) => orderPlaced(`outage-${i % 10}`, Math.floor(i / 10))));
      expect(await waitFor(async () => relay.stats.brokerOutages > 0, 30_000)).toBe(true);
      expect(await t.pending()).toBe(200);
      await services('kafka-start');
      expect(await waitFor(async () => (await t.pending()) === 0, 60_000)).toBe(true);
      const messages = await readTopic(t.topic);
      expect(new Set(messages.map((m) => m.headers.ce_id))).toEqual(new Set(ids));
      for (let k = 0; k < 10; k++) {
        const seqs = messages.filter((m) => m.key === `outage-${k}`).map((m) => seqOf(m.payload));
        expect([...new Set(seqs)]).toEqual(Array.from({ length: 20 }, (_, i) => i));
      }
    } finally {
      await services('kafka-start');
    }
  });
});
