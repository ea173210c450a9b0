import { afterAll, describe, expect, it } from 'vitest';
import { RedisStreamsPublisher, parseRedisUrl } from '../../src/brokers/redis-streams/publisher.js';
import { uniqueName } from '../support/services.js';
import { deliveredOf } from '../../src/brokers/publisher.js';
import { outgoing, publisherConformance } from './conformance.js';
import { PREFIX, REDIS_URL, closeRedisTarget, reader, redisStreamsTarget } from './targets/redis-streams.js';

afterAll(closeRedisTarget);

publisherConformance(redisStreamsTarget);

describe('redis streams publisher', () => {
  it('refuses in prepare a topic whose key holds another type, naming the key', async () => {
    const key = PREFIX + uniqueName('hash');
    await reader.hset(key, 'f', 'v');
    const publisher = new RedisStreamsPublisher({ url: REDIS_URL });
    try {
      await expect(publisher.prepare([key])).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining(key) });
    } finally {
      await publisher.close();
      await reader.del(key);
    }
  });

  it('reports, with a failure, the events whose XADD succeeded, so that they are not sent again', async () => {
    const topic = uniqueName('partial');
    const notStream = uniqueName('not-a-stream');
    await reader.set(PREFIX + notStream, 'a string, not a stream');
    const publisher = new RedisStreamsPublisher({ url: REDIS_URL, keyPrefix: PREFIX });
    try {
      const batch = [outgoing(topic, 'a', 0), outgoing(notStream, 'b', 0), outgoing(topic, 'a', 1)];
      const err = await publisher.publish(batch).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'PUBLISH_REJECTED' });
      expect(deliveredOf(err, batch.length)).toEqual([0, 2]);
      expect((await redisStreamsTarget.read(topic, 2)).map((m) => m.id)).toEqual([batch[0]!.event.id, batch[2]!.event.id]);
    } finally {
      await publisher.close();
      await reader.del(PREFIX + topic, PREFIX + notStream);
    }
  });

  it('trims each stream to about maxLen entries', async () => {
    const topic = uniqueName('trimmed');
    const publisher = new RedisStreamsPublisher({ url: REDIS_URL, keyPrefix: PREFIX, maxLen: 10 });
    try {
      for (let round = 0; round < 5; round++) {
        await publisher.publish(Array.from({ length: 100 }, (_, i) => outgoing(topic, 'k', round * 100 + i)));
      }
      // `~` trims whole macro nodes only (up to 100 entries each by default), so a few more remain.
      const length = await reader.xlen(PREFIX + topic);
      expect(length).toBeGreaterThanOrEqual(10);
      expect(length).toBeLessThanOrEqual(110);
    } finally {
      await publisher.close();
      await reader.del(PREFIX + topic);
    }
  });

  it('validates the url and never repeats its password', () => {
    expect(parseRedisUrl('redis://:s3cret@10.0.0.1:6380/2')).toMatchObject({ host: '10.0.0.1', port: 6380, db: 2, password: 's3cret' });
    expect(parseRedisUrl('redis://[::1]')).toMatchObject({ host: '::1', port: 6379, db: 0 });
    for (const bad of ['http://:s3cret@host:6379', 'redis://:s3cret@host:6379/x', 'redis://:s3cret@host:99999', 'not a url s3cret@']) {
      let err: unknown;
      try {
        parseRedisUrl(bad);
      } catch (e) {
        err = e;
      }
      expect(err, bad).toMatchObject({ code: 'CONFIG_INVALID' });
      expect((err as Error).message).not.toContain('s3cret');
    }
    expect(() => new RedisStreamsPublisher({ url: REDIS_URL, maxLen: 0 })).toThrow(/maxLen/);
  });
});
