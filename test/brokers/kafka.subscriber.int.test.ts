import { describe, expect, it } from 'vitest';
import { KafkaSubscriber } from '../../src/brokers/kafka/subscriber.js';
import { KAFKA, uniqueName } from '../support/services.js';
import { outgoing } from './conformance.js';
import { collect, subscriberConformance } from './subscriber-conformance.js';
import { kafkaSubscriberTarget } from './targets/kafka-subscriber.js';

subscriberConformance(kafkaSubscriberTarget);

describe('kafka subscriber', () => {
  it('hands out an abandoned batch again when the same subscriber iterates again', async () => {
    const topic = await kafkaSubscriberTarget.topic();
    const publisher = kafkaSubscriberTarget.publisher();
    const subscriber = new KafkaSubscriber({ brokers: KAFKA, topics: [topic], group: uniqueName('loader') });
    try {
      const batch = Array.from({ length: 8 }, (_, i) => outgoing(topic, `k${i % 2}`, i));
      await publisher.publish(batch);
      await subscriber.prepare();
      const ids = batch.map((e) => e.event.id).sort();
      expect((await collect(subscriber, batch.length, { ack: false })).events.map((e) => e.attributes.id).sort()).toEqual(ids);
      expect((await collect(subscriber, batch.length)).events.map((e) => e.attributes.id).sort()).toEqual(ids);
    } finally {
      await subscriber.close();
      await publisher.close();
    }
  });

  it('refuses a missing topic in prepare, naming it', async () => {
    const existing = await kafkaSubscriberTarget.topic();
    const missing = uniqueName('missing').replace('_', '.');
    const subscriber = new KafkaSubscriber({ brokers: KAFKA, topics: [existing, missing], group: uniqueName('loader') });
    try {
      await expect(subscriber.prepare()).rejects.toMatchObject({
        code: 'TOPIC_NOT_FOUND',
        message: expect.stringContaining(`'${missing}'`),
      });
    } finally {
      await subscriber.close();
    }
  });

  it('validates its options, naming the option', () => {
    const base = { brokers: KAFKA, topics: ['t'], group: 'g' };
    expect(() => new KafkaSubscriber({ ...base, brokers: 'kafka://nohost' })).toThrow(/host:port/);
    expect(() => new KafkaSubscriber({ ...base, sessionTimeoutMs: 10_000, heartbeatIntervalMs: 10_000 })).toThrow(/heartbeatIntervalMs/);
    expect(() => new KafkaSubscriber({ ...base, sessionTimeoutMs: 20_000, rebalanceTimeoutMs: 10_000 })).toThrow(/rebalanceTimeoutMs/);
    expect(() => new KafkaSubscriber({ ...base, group: '' })).toThrow(/group/);
  });
});
