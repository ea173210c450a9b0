import { afterAll, describe, expect, it } from 'vitest';
import { PubSubSubscriber } from '../../src/brokers/pubsub/subscriber.js';
import { uniqueName } from '../support/services.js';
import { subscriberConformance } from './subscriber-conformance.js';
import { PUBSUB_URL, admin, closePubSubTarget } from './targets/pubsub.js';
import { pubsubSubscriberTarget } from './targets/pubsub-subscriber.js';

subscriberConformance(pubsubSubscriberTarget);

describe('pubsub subscriber', () => {
  afterAll(async () => {
    await pubsubSubscriberTarget.cleanup?.();
    await closePubSubTarget();
  });

  it('refuses a group that makes an invalid subscription name, naming the option', () => {
    expect(() => new PubSubSubscriber({ url: PUBSUB_URL, topics: ['orders'], group: '9lives' })).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID', details: { option: 'group' } }),
    );
    expect(() => new PubSubSubscriber({ url: PUBSUB_URL, topics: ['orders'], group: 'google' })).toThrow(/goog/);
  });

  it('reports a missing topic as TOPIC_NOT_FOUND naming it', async () => {
    const topic = uniqueName('absent').replace('_', '.');
    const subscriber = new PubSubSubscriber({ url: PUBSUB_URL, topics: [topic], group: 'loader', createSubscriptions: true });
    await expect(subscriber.prepare()).rejects.toMatchObject({ code: 'TOPIC_NOT_FOUND', message: expect.stringContaining(topic) });
    await subscriber.close();
  });

  it('creates the subscription <group>.<topic> with message ordering on', async () => {
    const topic = await pubsubSubscriberTarget.topic();
    const group = uniqueName('created');
    const subscriber = pubsubSubscriberTarget.subscriber({ topics: [topic], group, createSubscriptions: true });
    await subscriber.prepare();
    await subscriber.prepare();
    await subscriber.close();
    const [metadata] = await admin().subscription(`${group}.${topic}`).getMetadata();
    expect(metadata.enableMessageOrdering).toBe(true);
    expect(metadata.topic).toBe(`projects/herald-test/topics/${topic}`);
  });
});
