import { KafkaSubscriber } from '../../../src/brokers/kafka/subscriber.js';
import { KAFKA } from '../../support/services.js';
import type { SubscriberTarget } from '../subscriber-conformance.js';
import { kafkaTarget } from './kafka.js';

/**
 * The KRaft broker `scripts/services.sh` starts, from the consuming side. Topics come from the
 * publisher target (4 partitions each); consumer groups need no creation, so
 * `subscriptionsMustExist` is false. Short request timeouts keep the unreachable case quick.
 */
export const kafkaSubscriberTarget: SubscriberTarget = {
  name: 'kafka',
  publisher: () => kafkaTarget.publisher(),
  topic: () => kafkaTarget.topic(),
  subscriber: (options) => new KafkaSubscriber({ ...options, brokers: KAFKA, timeoutMs: 2_000, retries: 1 }),
  unreachableSubscriber: (options) => new KafkaSubscriber({ ...options, brokers: '127.0.0.1:1', timeoutMs: 500, retries: 0 }),
  subscriptionsMustExist: false,
};
