import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migratePostgres, postgresOutboxStatus } from '../../src/postgres/migrate.js';
import { PostgresOutbox } from '../../src/postgres/outbox.js';
import { PollingSource } from '../../src/postgres/polling-source.js';
import { Relay } from '../../src/relay/relay.js';
import { orderContracts, orderPlaced, seqOf } from '../support/contracts.js';
import { PG_URL, pgClient, uniqueName, waitFor } from '../support/services.js';
import type { ConformanceTarget, ReceivedMessage } from './conformance.js';
import { closeHttpTarget, httpTarget } from './targets/http.js';
import { kafkaTarget } from './targets/kafka.js';
import { mqttTarget } from './targets/mqtt.js';
import { natsTarget } from './targets/nats.js';
import { closePubSubTarget, pubsubTarget } from './targets/pubsub.js';
import { rabbitMqTarget } from './targets/rabbitmq.js';
import { closeRedisTarget, redisStreamsTarget } from './targets/redis-streams.js';
import { snsTarget, startSnsTarget, stopSnsTarget } from './targets/sns.js';

// The same workload through every broker: 10,000 events over 100 partition keys, written to a
// fresh PostgreSQL outbox in several transactions, moved by one polling relay, then read back
// with the broker's own client. Nothing may be lost, and where the broker keeps per-key order,
// each key's first deliveries must follow the write order.

const EVENTS = 10_000;
const KEYS = 100;
const PER_TRANSACTION = 1_000;
/** How long draining the outbox, and then reading everything back, may take per broker. */
const DRAIN_MS = 90_000;
const READ_MS = 60_000;

// SNS through a FIFO topic: the one kind that keeps per-key order, read back from its SQS queue.
const targets: ConformanceTarget[] = [
  kafkaTarget,
  pubsubTarget,
  natsTarget,
  rabbitMqTarget,
  redisStreamsTarget,
  mqttTarget,
  httpTarget,
  snsTarget(true),
];

beforeAll(startSnsTarget);

/** Per broker: seconds spent writing, draining the outbox through the relay, and reading back. */
const timings: Record<string, { write: number; relay: number; read: number; total: number; received: number }> = {};

afterAll(async () => {
  // The target modules that hold something open since they were imported.
  await closeHttpTarget();
  closeRedisTarget();
  await closePubSubTarget();
  await stopSnsTarget();
  console.log(
    `relay workload, ${EVENTS} events over ${KEYS} keys (seconds):\n` +
      Object.entries(timings)
        .map(
          ([name, t]) =>
            `  ${name.padEnd(14)} write ${t.write.toFixed(1)}  relay ${t.relay.toFixed(1)}  read ${t.read.toFixed(1)}  total ${t.total.toFixed(1)}  (${t.received} messages)`,
        )
        .join('\n'),
  );
});

/** Writes the workload in transactions of `PER_TRANSACTION`; returns the event ids in write order. */
async function writeWorkload(schema: string, topic: string): Promise<string[]> {
  const outbox = new PostgresOutbox({ contracts: orderContracts(topic), source: '/relay-workload', schema });
  const db = await pgClient();
  const ids: string[] = [];
  try {
    for (let start = 0; start < EVENTS; start += PER_TRANSACTION) {
      const inputs = Array.from({ length: PER_TRANSACTION }, (_, j) => {
        const i = start + j;
        return { contract: 'orders.order-placed', data: orderPlaced(`customer-${i % KEYS}`, Math.floor(i / KEYS)) };
      });
      await db.query('BEGIN');
      const written = await outbox.appendMany(db, inputs);
      await db.query('COMMIT');
      ids.push(...written.map((e) => e.id));
    }
  } finally {
    await db.end();
  }
  return ids;
}

/** Per key, the `seq` of each event's first delivery, in arrival order. */
function firstSeqsByKey(messages: readonly ReceivedMessage[]): Map<string, number[]> {
  const seen = new Set<string>();
  const byKey = new Map<string, number[]>();
  for (const m of messages) {
    if (seen.has(m.id)) continue;
    seen.add(m.id);
    const key = m.attributes.partitionkey ?? '(none)';
    if (!byKey.has(key)) byKey.set(key, []);
    byKey.get(key)!.push(seqOf(m.data));
  }
  return byKey;
}

describe(`relay workload: ${EVENTS} outbox events over ${KEYS} keys`, () => {
  for (const target of targets) {
    it(`${target.name}: every event arrives${target.ordersPerKey ? ', each key in write order' : ''}`, async () => {
      const schema = uniqueName('workload');
      const started = Date.now();
      try {
        await migratePostgres(PG_URL, { schema });
        const topic = await target.topic();

        const ids = await writeWorkload(schema, topic);
        const written = Date.now();

        const source = new PollingSource({ database: PG_URL, schema });
        const publisher = target.publisher();
        const relay = new Relay({ source, publisher, pollIntervalMs: 200 });
        let failure: unknown;
        const running = relay.run().catch((err: unknown) => {
          failure = err;
        });
        const pending = async (): Promise<number> => (await postgresOutboxStatus(PG_URL, { schema })).pending;
        let drained: boolean;
        try {
          drained = await waitFor(async () => failure !== undefined || (await pending()) === 0, DRAIN_MS, 250);
        } finally {
          await relay.stop();
          await running;
          await source.close();
          await publisher.close();
        }
        const relayed = Date.now();
        if (failure !== undefined) throw failure;
        expect(drained, `outbox still holds ${await pending()} events after ${DRAIN_MS / 1000} s`).toBe(true);
        const status = await postgresOutboxStatus(PG_URL, { schema });
        expect(status.deadLettered, 'dead-lettered events').toBe(0);
        expect(relay.stats.delivered).toBe(EVENTS);

        const received = await target.read(topic, EVENTS, READ_MS);
        const read = Date.now();
        timings[target.name] = {
          write: (written - started) / 1000,
          relay: (relayed - written) / 1000,
          read: (read - relayed) / 1000,
          total: (read - started) / 1000,
          received: received.length,
        };

        // Nothing lost, nothing foreign: the ids that arrived are exactly the ids written.
        const arrived = new Set(received.map((m) => m.id));
        const writtenIds = new Set(ids);
        expect(ids.filter((id) => !arrived.has(id)).length, 'written events that never arrived').toBe(0);
        expect(
          [...arrived].filter((id) => !writtenIds.has(id)),
          'arrived events that were never written',
        ).toEqual([]);
        expect(arrived.size).toBe(EVENTS);

        if (target.ordersPerKey) {
          const byKey = firstSeqsByKey(received);
          const inOrder = Array.from({ length: EVENTS / KEYS }, (_, s) => s);
          const disordered = [...byKey.entries()]
            .filter(([, seqs]) => seqs.length !== inOrder.length || seqs.some((s, i) => s !== i))
            .map(([key, seqs]) => `${key}: ${seqs.join(',')}`);
          expect(byKey.size).toBe(KEYS);
          expect(disordered, 'keys whose first deliveries are out of write order').toEqual([]);
        }
      } finally {
        await target.cleanup?.();
        const db = await pgClient();
        await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).finally(() => db.end());
      }
    });
  }
});
