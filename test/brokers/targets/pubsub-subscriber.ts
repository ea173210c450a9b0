import { PubSubSubscriber } from '../../../src/brokers/pubsub/subscriber.js';
import type { SubscriberOptions } from '../../../src/brokers/subscriber.js';
import type { SubscriberTarget } from '../subscriber-conformance.js';
import { PUBSUB_URL, admin, pubsubTarget } from './pubsub.js';

/** Subscriptions the subscribers may have created (`<group>.<topic>`), deleted in `cleanup`. */
const subscriptions = new Set<string>();

function remember(options: SubscriberOptions): SubscriberOptions {
  for (const topic of options.topics) subscriptions.add(`${options.group}.${topic}`);
  return options;
}

/** The Pub/Sub emulator, read by Herald's subscriber; topics come from the publisher's target. */
export const pubsubSubscriberTarget: SubscriberTarget = {
  name: 'pubsub',
  publisher: () => pubsubTarget.publisher(),
  topic: () => pubsubTarget.topic(),
  subscriber: (options) => new PubSubSubscriber({ url: PUBSUB_URL, ...remember(options) }),
  unreachableSubscriber: (options) => new PubSubSubscriber({ url: 'pubsub://herald-test?emulator=127.0.0.1:1', ...options }),
  subscriptionsMustExist: true,
  cleanup: async () => {
    for (const name of [...subscriptions]) {
      subscriptions.delete(name);
      await admin()
        .subscription(name)
        .delete()
        .catch(() => undefined);
    }
    await pubsubTarget.cleanup?.();
  },
};
