import net from 'node:net';
import { PubSub, v1 } from '@google-cloud/pubsub';
import { afterAll, describe, expect, it } from 'vitest';
import { PubSubPublisher } from '../../src/brokers/pubsub.js';
import { services, uniqueName } from '../support/services.js';
import { outgoing, publisherConformance, type ReceivedMessage } from './conformance.js';

/** The emulator `scripts/services.sh` starts (`pubsub-start`); it accepts any project id. */
const EMULATOR = process.env.HERALD_TEST_PUBSUB ?? '127.0.0.1:8085';
const PROJECT = 'herald-test';
const PUBSUB_URL = `pubsub://${PROJECT}?emulator=${EMULATOR}`;

// Tests never leave this machine: every socket any library opens in this file is recorded, and
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

// The broker's own client, used directly (not through Herald) to create and read destinations.
const admin = new PubSub({ projectId: PROJECT, apiEndpoint: EMULATOR, emulatorMode: true, universeDomain: 'googleapis.com' });
let subscriber: v1.SubscriberClient | undefined;
const created: string[] = [];
/** What each topic's subscription delivered so far: a pulled message is acknowledged and gone. */
const delivered = new Map<string, ReceivedMessage[]>();

async function createTopicAndSubscription(topic: string): Promise<void> {
  await admin.createTopic(topic);
  // Ordered delivery, so that the order a key was published in is the order it is read in.
  await admin.topic(topic).createSubscription(`${topic}-sub`, { enableMessageOrdering: true });
}

/** One synchronous pull (waiting at most `waitMs` for a message), acknowledged at once. */
async function pullOnce(topic: string, waitMs: number): Promise<number> {
  if (!subscriber) {
    // The admin client's settings: the emulator address, plain-text gRPC, no Google auth.
    const config = await admin.getClientConfig();
    subscriber = new v1.SubscriberClient({ ...config, port: Number(config.port) });
  }
  const subscription = `projects/${PROJECT}/subscriptions/${topic}-sub`;
  const [response] = await subscriber
    .pull({ subscription, maxMessages: 1000 }, { timeout: waitMs, retry: null })
    .catch((err: { code?: number }) => {
      if (err.code === 4) return [{ receivedMessages: [] }]; // DEADLINE_EXCEEDED: nothing arrived
      throw err;
    });
  const received = response.receivedMessages ?? [];
  if (received.length === 0) return 0;
  await subscriber.acknowledge({ subscription, ackIds: received.map((r) => r.ackId!) });
  const list = delivered.get(topic) ?? [];
  for (const { message } of received) {
    const attributes = Object.fromEntries(
      Object.entries(message!.attributes ?? {})
        .filter(([name]) => name.startsWith('ce-'))
        .map(([name, value]) => [name.slice(3), value]),
    );
    list.push({
      id: attributes.id!,
      data: Buffer.from(message!.data as Uint8Array).toString('utf8'),
      attributes,
      dedupId: attributes.id,
      orderingKey: message!.orderingKey || undefined,
    });
  }
  delivered.set(topic, list);
  return received.length;
}

async function read(topic: string, atLeast: number): Promise<ReceivedMessage[]> {
  const deadline = Date.now() + 10_000;
  // Ordered delivery hands out a key's next message only after the previous one was acknowledged.
  while ((delivered.get(topic)?.length ?? 0) < atLeast && Date.now() < deadline) await pullOnce(topic, 2000);
  return delivered.get(topic) ?? [];
}

publisherConformance({
  name: 'pubsub',
  publisher: () => new PubSubPublisher({ url: PUBSUB_URL, timeoutMs: 3000 }),
  unreachablePublisher: () => new PubSubPublisher({ url: `pubsub://${PROJECT}?emulator=127.0.0.1:1`, timeoutMs: 1500 }),
  topic: async () => {
    const topic = uniqueName('conformance').replace('_', '.');
    await createTopicAndSubscription(topic);
    created.push(topic);
    return topic;
  },
  read,
  ordersPerKey: true,
  // 'goog' starts the names Google reserves: the emulator refuses them as INVALID_ARGUMENT.
  permanentRejection: (publisher) =>
    publisher.publish([outgoing('goog-reserved', 'k', 0)]).then(
      () => undefined,
      (e: unknown) => e,
    ),
  // The emulator keeps everything in memory only (its --data-dir holds just env.yaml), so a
  // restart loses topics, subscriptions and messages. What arrived before is read (and kept
  // here) first, as a consumer would have; the test's topics are created again afterwards. This
  // checks that the publisher reconnects, not that the emulator is durable.
  restart: async () => {
    for (const topic of created) while ((await pullOnce(topic, 1000)) > 0);
    await services('pubsub-restart');
    for (const topic of created) await createTopicAndSubscription(topic);
  },
  cleanup: async () => {
    for (const topic of created.splice(0)) {
      await admin
        .subscription(`${topic}-sub`)
        .delete()
        .catch(() => undefined);
      await admin
        .topic(topic)
        .delete()
        .catch(() => undefined);
      delivered.delete(topic);
    }
  },
});

describe('pubsub publisher', () => {
  afterAll(async () => {
    await subscriber?.close();
    await admin.close();
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
    expect((await admin.topic(topic).exists())[0]).toBe(true);
    await admin.topic(topic).delete();
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
