import { NatsSubscriber } from '../../../src/brokers/nats/subscriber.js';
import type { SubscriberTarget } from '../subscriber-conformance.js';
import { natsTarget } from './nats.js';

const NATS = process.env.HERALD_TEST_NATS ?? 'nats://127.0.0.1:4222';

/**
 * The machine's nats-server, read by Herald's subscriber. Each topic has a stream of its own
 * (from the publisher's target); deleting the streams in `cleanup` deletes their consumers too.
 */
export const natsSubscriberTarget: SubscriberTarget = {
  name: 'nats',
  publisher: () => natsTarget.publisher(),
  topic: () => natsTarget.topic(),
  subscriber: (options) => new NatsSubscriber({ url: NATS, ...options }),
  unreachableSubscriber: (options) => new NatsSubscriber({ url: 'nats://127.0.0.1:1', ...options }),
  subscriptionsMustExist: true,
  cleanup: async () => natsTarget.cleanup?.(),
};
