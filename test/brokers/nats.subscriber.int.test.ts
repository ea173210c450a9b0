import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, describe, expect, it } from 'vitest';
import { NatsSubscriber } from '../../src/brokers/nats/subscriber.js';
import { uniqueName } from '../support/services.js';
import { subscriberConformance } from './subscriber-conformance.js';
import { natsSubscriberTarget } from './targets/nats-subscriber.js';

const NATS = process.env.HERALD_TEST_NATS ?? 'nats://127.0.0.1:4222';

subscriberConformance(natsSubscriberTarget);

describe('nats subscriber', () => {
  afterAll(async () => {
    await natsSubscriberTarget.cleanup?.();
  });

  it('refuses a group that is no durable consumer name, naming the option', () => {
    expect(() => new NatsSubscriber({ url: NATS, topics: ['orders.v1'], group: 'a.b' })).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID', details: { option: 'group' } }),
    );
  });

  it('reports a subject no stream captures as TOPIC_NOT_FOUND naming it', async () => {
    const subject = uniqueName('uncaptured').replace('_', '.');
    const subscriber = new NatsSubscriber({ url: NATS, topics: [subject], group: 'loader', createSubscriptions: true });
    await expect(subscriber.prepare()).rejects.toMatchObject({ code: 'TOPIC_NOT_FOUND', message: expect.stringContaining(subject) });
    await subscriber.close();
  });

  it('creates a durable pull consumer named after the group, filtered on the topic, with explicit acks', async () => {
    const topic = await natsSubscriberTarget.topic();
    const group = uniqueName('created');
    const subscriber = natsSubscriberTarget.subscriber({ topics: [topic], group, createSubscriptions: true });
    await subscriber.prepare();
    await subscriber.prepare();
    await subscriber.close();
    const nc = await connect({ servers: NATS });
    try {
      const jsm = await jetstreamManager(nc);
      const info = await jsm.consumers.info(await jsm.streams.find(topic), group);
      expect(info.config).toMatchObject({ durable_name: group, filter_subject: topic, ack_policy: 'explicit', deliver_policy: 'all' });
      expect(info.config.deliver_subject).toBeUndefined();
    } finally {
      await nc.close();
    }
  });
});
