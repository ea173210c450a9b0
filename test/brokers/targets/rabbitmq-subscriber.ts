import { RabbitMqSubscriber } from '../../../src/brokers/rabbitmq/subscriber.js';
import type { SubscriberOptions } from '../../../src/brokers/subscriber.js';
import type { SubscriberTarget } from '../subscriber-conformance.js';
import { RABBITMQ, rabbitMqTarget, withChannel } from './rabbitmq.js';

/** Queues the subscribers may have declared (`<group>.<topic>`), deleted in `cleanup`. */
const queues = new Set<string>();

function remember(options: SubscriberOptions): SubscriberOptions {
  for (const topic of options.topics) queues.add(`${options.group}.${topic}`);
  return options;
}

/** The machine's RabbitMQ, read by Herald's subscriber; topics come from the publisher's target. */
export const rabbitMqSubscriberTarget: SubscriberTarget = {
  name: 'rabbitmq',
  publisher: () => rabbitMqTarget.publisher(),
  topic: () => rabbitMqTarget.topic(),
  subscriber: (options) => new RabbitMqSubscriber({ url: RABBITMQ, ...remember(options) }),
  unreachableSubscriber: (options) => new RabbitMqSubscriber({ url: 'amqp://guest:guest@127.0.0.1:1/', ...options }),
  subscriptionsMustExist: true,
  cleanup: async () => {
    const names = [...queues];
    queues.clear();
    if (names.length > 0) await withChannel(async (ch) => void (await Promise.all(names.map((q) => ch.deleteQueue(q)))));
    await rabbitMqTarget.cleanup?.();
  },
};
