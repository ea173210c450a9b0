import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { PubSubPublisher } from '../../src/brokers/pubsub/publisher.js';
import { uniqueName } from '../support/services.js';
import { deliveredOf } from '../../src/brokers/publisher.js';
import { outgoing, publisherConformance } from './conformance.js';
import { PUBSUB_URL, admin, closePubSubTarget, createTopicAndSubscription, pubsubTarget, read } from './targets/pubsub.js';

// Tests never leave this machine: every socket any library opens in this file (the target's clients are made on first use, after
// this) is recorded, and
// the last test checks that all of them went to the loopback address (no Google auth, no GCE
// metadata server probe).
const remote: string[] = [];
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
  // net.connect() passes its normalised arguments as one array: [options, callback].
  const first = (Array.isArray(args[0]) ? args[0][0] : args[0]) as { host?: string; path?: string } | number | string;
  const host =
    typeof first === 'object' ? (first.path ? 'unix' : (first.host ?? 'localhost')) : typeof args[1] === 'string' ? args[1] : 'localhost';
  if (!['127.0.0.1', 'localhost', '::1', 'unix'].includes(host)) remote.push(host);
  return (connect as (...a: unknown[]) => net.Socket).apply(this, args);
} as typeof connect;

publisherConformance(pubsubTarget);

describe('pubsub publisher', () => {
  afterAll(async () => {
    await closePubSubTarget();
    net.Socket.prototype.connect = connect;
  });

  it('refuses a message over 10 MiB before sending it, as not retryable', async () => {
    const publisher = new PubSubPublisher({ url: PUBSUB_URL, timeoutMs: 3000 });
    const big = { ...outgoing('anything', 'big', 0), data: JSON.stringify({ filler: 'x'.repeat(11 * 1024 * 1024) }) };
    await expect(publisher.publish([big])).rejects.toMatchObject({ code: 'PUBLISH_REJECTED', retryable: false });
    await publisher.close();
  });

  it('prepare reports a missing topic as TOPIC_NOT_FOUND, and creates it when allowed', async () => {
    const topic = uniqueName('prepare').replace('_', '.');
    const strict = new PubSubPublisher({ url: PUBSUB_URL });
    await expect(strict.prepare([topic])).rejects.toMatchObject({ code: 'TOPIC_NOT_FOUND', message: expect.stringContaining(topic) });
    await strict.close();
    const creating = new PubSubPublisher({ url: PUBSUB_URL, createTopics: true });
    await creating.prepare([topic, topic]);
    await creating.prepare([topic]);
    await creating.close();
    await strict.close();
    expect((await admin().topic(topic).exists())[0]).toBe(true);
    await admin().topic(topic).delete();
  });

  it('takes new events of a key again after a failed publish paused it', async () => {
    const topic = uniqueName('resume').replace('_', '.');
    const publisher = new PubSubPublisher({ url: PUBSUB_URL, timeoutMs: 3000 });
    await expect(publisher.publish([outgoing(topic, 'paused', 0)])).rejects.toMatchObject({ code: 'TOPIC_NOT_FOUND', retryable: true });
    await createTopicAndSubscription(topic);
    const e = outgoing(topic, 'paused', 1);
    await publisher.publish([e]);
    expect((await read(topic, 1)).map((m) => m.id)).toEqual([e.event.id]);
    await publisher.close();
  });

  it('reports, with a failure, the messages Pub/Sub stored, so that they are not sent again', async () => {
    const topic = uniqueName('partial').replace('_', '.');
    const missing = uniqueName('missing').replace('_', '.');
    await createTopicAndSubscription(topic);
    const publisher = new PubSubPublisher({ url: PUBSUB_URL, timeoutMs: 3000 });
    const batch = [outgoing(topic, 'a', 0), outgoing(missing, 'b', 0), outgoing(topic, 'a', 1)];
    const err = await publisher.publish(batch).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'TOPIC_NOT_FOUND' });
    expect(deliveredOf(err, batch.length)).toEqual([0, 2]);
    expect((await read(topic, 2)).map((m) => m.id).sort()).toEqual([batch[0]!.event.id, batch[2]!.event.id].sort());
    await publisher.close();
  });

  it('rejects a bad url or emulator address naming the option', () => {
    expect(() => new PubSubPublisher({ url: 'pubsub://' })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    expect(() => new PubSubPublisher({ url: 'pubsub://Bad_Project' })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    expect(() => new PubSubPublisher({ url: 'pubsub://my-project?emulatr=x:1' })).toThrow(/emulatr/);
    expect(() => new PubSubPublisher({ url: 'pubsub://my-project', emulatorHost: 'localhost' })).toThrow(
      expect.objectContaining({ details: { option: 'emulatorHost' } }),
    );
  });

  it('never connected anywhere but this machine', () => {
    expect(remote).toEqual([]);
  });
});
