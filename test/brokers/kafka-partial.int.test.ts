import { describe, expect, it } from 'vitest';
import { KafkaPublisher } from '../../src/brokers/kafka/publisher.js';
import { deliveredOf } from '../../src/brokers/publisher.js';
import { ErrorCodes, isHeraldError } from '../../src/errors.js';
import { KAFKA, createTopic, readTopic, uniqueName } from '../support/services.js';
import { outgoing } from './conformance.js';

const keys = Array.from({ length: 12 }, (_, k) => `key-${k}`);

describe('kafka publisher: a batch refused in part', () => {
  it('reports exactly the events of the partitions that stored their records, and those are the ones on the topic', async () => {
    const topic = uniqueName('partial').replace('_', '.');
    await createTopic(topic, { 'max.message.bytes': '4000' });
    // Partial reports are the idempotent producer's (a transaction refused in part commits nothing).
    const publisher = new KafkaPublisher({ brokers: KAFKA, ackTimeoutMs: 5000, timeoutMs: 2000, retries: 1, transactions: false });
    try {
      const batch = keys.map((key) => outgoing(topic, key, 0));
      batch[3] = { ...batch[3]!, data: JSON.stringify({ filler: 'x'.repeat(6000) }) };
      const err = await publisher.publish(batch).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isHeraldError(err, ErrorCodes.PUBLISH_REJECTED)).toBe(true);

      const onTopic = await readTopic(topic);
      const stored = deliveredOf(err, batch.length).map((i) => batch[i]!.event.id);
      // The keys spread over the topic's 4 partitions: some stored, the oversized event's did not.
      expect(stored.length).toBeGreaterThan(0);
      expect(stored).not.toContain(batch[3]!.event.id);
      expect(onTopic.map((m) => m.headers.ce_id).sort()).toEqual([...stored].sort());
      const storedOn = new Set(onTopic.map((m) => m.partition));
      expect(storedOn.size).toBeLessThan(4);
    } finally {
      await publisher.close();
    }
  });

  it("puts each key on the partition @platformatic/kafka's own default partitioner picks", async () => {
    const ours = uniqueName('partition.ours').replace('_', '.');
    const theirs = uniqueName('partition.theirs').replace('_', '.');
    await Promise.all([createTopic(ours), createTopic(theirs)]);
    const publisher = new KafkaPublisher({ brokers: KAFKA });
    const { Producer, stringSerializers } = await import('@platformatic/kafka');
    const raw = new Producer({ clientId: 'herald-test-raw', bootstrapBrokers: [KAFKA], serializers: stringSerializers });
    try {
      await publisher.publish(keys.map((key) => outgoing(ours, key, 0)));
      await raw.send({ messages: keys.map((key) => ({ topic: theirs, key, value: 'x' })) });
      const partitionsOf = async (topic: string): Promise<Record<string, number>> =>
        Object.fromEntries((await readTopic(topic)).map((m) => [m.key, m.partition]));
      const expected = await partitionsOf(theirs);
      expect(new Set(Object.values(expected)).size).toBeGreaterThan(1);
      expect(await partitionsOf(ours)).toEqual(expected);
    } finally {
      await publisher.close();
      await raw.close();
    }
  });

  it('with transactions, commits nothing of a batch refused in part: a read_committed reader sees none of it', async () => {
    const topic = uniqueName('partial.txn').replace('_', '.');
    await createTopic(topic, { 'max.message.bytes': '4000' });
    const publisher = new KafkaPublisher({ brokers: KAFKA, ackTimeoutMs: 5000, timeoutMs: 2000, retries: 1 });
    try {
      const identity = uniqueName('herald-test');
      await publisher.fence({ identity, previous: [] });
      const batch = keys.map((key) => outgoing(topic, key, 0));
      batch[3] = { ...batch[3]!, data: JSON.stringify({ filler: 'x'.repeat(6000) }) };
      const err = await publisher.publish(batch).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isHeraldError(err, ErrorCodes.PUBLISH_REJECTED)).toBe(true);
      expect(deliveredOf(err, batch.length)).toEqual([]);
      // The next session of the same id aborts what the refused one left open; then a batch commits.
      expect(await publisher.fence({ identity, previous: [] })).toBe(true);
      await publisher.publish([outgoing(topic, 'after', 0)]);
      expect((await readTopic(topic)).map((m) => m.key)).toEqual(['after']);
    } finally {
      await publisher.close();
    }
  });
});
