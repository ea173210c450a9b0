import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { RedisStreamsSubscriber } from '../../src/brokers/redis-streams/subscriber.js';
import { uniqueName } from '../support/services.js';
import { outgoing } from './conformance.js';
import { collect, subscriberConformance } from './subscriber-conformance.js';
import { PREFIX, REDIS_URL, closeRedisTarget, reader, redisStreamsTarget } from './targets/redis-streams.js';
import { redisStreamsSubscriberTarget } from './targets/redis-streams-subscriber.js';

afterAll(closeRedisTarget);

subscriberConformance(redisStreamsSubscriberTarget);

describe('redis streams subscriber', () => {
  const open: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    for (const x of open.splice(0)) await x.close();
    await redisStreamsTarget.cleanup!();
  });
  const subscriber = (topic: string, group: string, consumer: string, claimIdleMs?: number): RedisStreamsSubscriber => {
    const s = new RedisStreamsSubscriber({
      topics: [topic],
      group,
      consumer,
      claimIdleMs,
      url: REDIS_URL,
      keyPrefix: PREFIX,
      createSubscriptions: true,
    });
    open.push(s);
    return s;
  };

  it('claims the entries another consumer left pending once they have been idle for claimIdleMs', async () => {
    const topic = await redisStreamsTarget.topic();
    const group = uniqueName('loader');
    const gone = subscriber(topic, group, 'gone');
    await gone.prepare();
    const publisher = redisStreamsTarget.publisher();
    open.push(publisher);
    const batch = Array.from({ length: 5 }, (_, i) => outgoing(topic, 'claimed', i));
    await publisher.publish(batch);
    expect((await collect(gone, batch.length, { ack: false })).events).toHaveLength(batch.length);
    await gone.close();

    const heir = subscriber(topic, group, 'heir', 300);
    await heir.prepare();
    const { events } = await collect(heir, batch.length, { timeoutMs: 10_000 });
    expect(events.map((e) => e.attributes.id).sort()).toEqual(batch.map((e) => e.event.id).sort());
    const [pending] = (await reader.xpending(PREFIX + topic, group)) as [number];
    expect(pending).toBe(0);
  });

  it('hands out an abandoned batch again when the same subscriber iterates again', async () => {
    const topic = await redisStreamsTarget.topic();
    const s = subscriber(topic, uniqueName('loader'), 'again');
    await s.prepare();
    const publisher = redisStreamsTarget.publisher();
    open.push(publisher);
    const batch = Array.from({ length: 8 }, (_, i) => outgoing(topic, `k${i % 2}`, i));
    await publisher.publish(batch);
    const ids = batch.map((e) => e.event.id);
    expect((await collect(s, batch.length, { ack: false })).events.map((e) => e.attributes.id)).toEqual(ids);
    expect((await collect(s, batch.length)).events.map((e) => e.attributes.id)).toEqual(ids);
  });

  it('acknowledges and skips a pending entry that was deleted from its stream', async () => {
    const topic = await redisStreamsTarget.topic();
    const group = uniqueName('loader');
    const s = subscriber(topic, group, 'deleted');
    await s.prepare();
    const publisher = redisStreamsTarget.publisher();
    open.push(publisher);
    const batch = Array.from({ length: 3 }, (_, i) => outgoing(topic, 'k', i));
    await publisher.publish(batch);
    const first = await collect(s, batch.length, { ack: false });
    await reader.xdel(PREFIX + topic, first.events[1]!.position);
    const { events } = await collect(s, 2);
    expect(events.map((e) => e.attributes.id)).toEqual([batch[0]!.event.id, batch[2]!.event.id]);
    const [pending] = (await reader.xpending(PREFIX + topic, group)) as [number];
    expect(pending).toBe(0);
  });

  it('refuses in prepare a topic whose key holds another type, naming the key', async () => {
    const topic = uniqueName('hash');
    await reader.hset(PREFIX + topic, 'f', 'v');
    try {
      const s = subscriber(topic, 'loader', 'c');
      await expect(s.prepare()).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining(PREFIX + topic) });
    } finally {
      await reader.del(PREFIX + topic);
    }
  });
});
