import { RedisStreamsSubscriber } from '../../../src/brokers/redis-streams/subscriber.js';
import type { SubscriberTarget } from '../subscriber-conformance.js';
import { PREFIX, REDIS_URL, redisStreamsTarget } from './redis-streams.js';

/**
 * The machine's redis-server, from the consuming side: streams come from the publisher target
 * (under its `PREFIX`), and its `cleanup` deletes them, and with them their consumer groups.
 * Whoever imports this module calls `closeRedisTarget` once, in `afterAll`.
 */
export const redisStreamsSubscriberTarget: SubscriberTarget = {
  name: 'redis streams',
  publisher: () => redisStreamsTarget.publisher(),
  topic: () => redisStreamsTarget.topic(),
  subscriber: (options) =>
    new RedisStreamsSubscriber({ ...options, url: REDIS_URL, keyPrefix: PREFIX, connectTimeoutMs: 2_000, timeoutMs: 5_000 }),
  unreachableSubscriber: (options) => new RedisStreamsSubscriber({ ...options, url: 'redis://127.0.0.1:1', connectTimeoutMs: 500 }),
  subscriptionsMustExist: true,
  cleanup: () => redisStreamsTarget.cleanup!(),
};
