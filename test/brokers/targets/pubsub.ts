import { PubSub, v1 } from '@google-cloud/pubsub';
import { PubSubPublisher } from '../../../src/brokers/pubsub/publisher.js';
import { services, uniqueName } from '../../support/services.js';
import { outgoing, type ConformanceTarget, type ReceivedMessage } from '../conformance.js';

/** The emulator `scripts/services.sh` starts (`pubsub-start`); it accepts any project id. */
const EMULATOR = process.env.HERALD_TEST_PUBSUB ?? '127.0.0.1:8085';
const PROJECT = 'herald-test';
export const PUBSUB_URL = `pubsub://${PROJECT}?emulator=${EMULATOR}`;

// The broker's own client, used directly (not through Herald) to create and read destinations.
// Made on first use, so that importing this module opens nothing.
let adminClient: PubSub | undefined;
let subscriber: v1.SubscriberClient | undefined;

/** The emulator's admin client (plain-text gRPC, no Google auth). */
export function admin(): PubSub {
  adminClient ??= new PubSub({ projectId: PROJECT, apiEndpoint: EMULATOR, emulatorMode: true, universeDomain: 'googleapis.com' });
  return adminClient;
}

/** Closes the clients `read` and `topic()` opened; whoever imports this module calls it once, in `afterAll`. */
export async function closePubSubTarget(): Promise<void> {
  await subscriber?.close();
  await adminClient?.close();
  subscriber = undefined;
  adminClient = undefined;
}
const created: string[] = [];
/** What each topic's subscription delivered so far: a pulled message is acknowledged and gone. */
const delivered = new Map<string, ReceivedMessage[]>();

export async function createTopicAndSubscription(topic: string): Promise<void> {
  await admin().createTopic(topic);
  // Ordered delivery, so that the order a key was published in is the order it is read in.
  await admin().topic(topic).createSubscription(`${topic}-sub`, { enableMessageOrdering: true });
}

/** One synchronous pull (waiting at most `waitMs` for a message), acknowledged at once. */
async function pullOnce(topic: string, waitMs: number): Promise<number> {
  if (!subscriber) {
    // The admin client's settings: the emulator address, plain-text gRPC, no Google auth.
    const config = await admin().getClientConfig();
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

/** What the topic's subscription delivered so far, pulling until `atLeast` arrived or `timeoutMs` (10 s) passed. */
export async function read(topic: string, atLeast: number, timeoutMs = 10_000): Promise<ReceivedMessage[]> {
  const deadline = Date.now() + timeoutMs;
  // Ordered delivery hands out a key's next message only after the previous one was acknowledged.
  while ((delivered.get(topic)?.length ?? 0) < atLeast && Date.now() < deadline) await pullOnce(topic, 2000);
  return delivered.get(topic) ?? [];
}

/** The Pub/Sub emulator: `topic()` makes a topic with an ordered subscription, deleted in `cleanup`. */
export const pubsubTarget: ConformanceTarget = {
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
      await admin()
        .subscription(`${topic}-sub`)
        .delete()
        .catch(() => undefined);
      await admin()
        .topic(topic)
        .delete()
        .catch(() => undefined);
      delivered.delete(topic);
    }
  },
};
