import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { connect, type Channel, type Message } from 'amqplib';
import { RabbitMqPublisher, rabbitMqDefaults } from '../../../src/brokers/rabbitmq/publisher.js';
import { uniqueName, waitFor } from '../../support/services.js';
import { outgoing, type ConformanceTarget, type ReceivedMessage } from '../conformance.js';

const run = promisify(execFile);

/** The RabbitMQ installed on this machine (guest/guest). */
export const RABBITMQ = process.env.HERALD_TEST_RABBITMQ ?? 'amqp://guest:guest@127.0.0.1:5672/';
const EXCHANGE = rabbitMqDefaults.exchange;

/** Runs `fn` on a channel of a connection of its own, which the restart test may have broken. */
export async function withChannel<T>(fn: (channel: Channel) => Promise<T>): Promise<T> {
  const conn = await connect(RABBITMQ);
  try {
    return await fn(await conn.createChannel());
  } finally {
    await conn.close().catch(() => undefined);
  }
}

/** `cloudEvents:*` headers back to CloudEvents attribute names. */
function attributesOf(headers: Record<string, unknown> = {}): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers)
      .filter(([name]) => name.startsWith('cloudEvents:'))
      .map(([name, value]) => [name.slice('cloudEvents:'.length), String(value)]),
  );
}

function received(m: Message): ReceivedMessage {
  const attributes = attributesOf(m.properties.headers);
  return { id: attributes.id!, data: m.content.toString('utf8'), attributes, dedupId: m.properties.messageId as string };
}

/** Takes every message off `queue` with basic.get, waiting at most `timeoutMs` (5 s) for `atLeast` of them. */
function readQueue(queue: string, atLeast: number, timeoutMs = 5_000): Promise<ReceivedMessage[]> {
  return withChannel(async (ch) => {
    const out: ReceivedMessage[] = [];
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = await ch.get(queue, { noAck: true });
      if (m) out.push(received(m));
      else if (out.length >= atLeast || Date.now() > deadline) return out;
      else await new Promise((r) => setTimeout(r, 100));
    }
  });
}

/** Stops and starts the RabbitMQ application (durable queues and persistent messages survive) and waits until it accepts connections. */
async function restartRabbitMq(): Promise<void> {
  await run('rabbitmqctl', ['stop_app']);
  await run('rabbitmqctl', ['start_app']);
  const up = await waitFor(
    () =>
      connect(RABBITMQ).then(
        (c) => c.close().then(() => true),
        () => false,
      ),
    30_000,
  );
  if (!up) throw new Error('RabbitMQ did not accept connections within 30 s after a restart');
}

const queues: string[] = [];

/** The machine's RabbitMQ: `topic()` makes a durable queue bound to Herald's exchange with the topic as routing key, deleted in `cleanup`. */
export const rabbitMqTarget: ConformanceTarget = {
  name: 'rabbitmq',
  publisher: () => new RabbitMqPublisher({ url: RABBITMQ, timeoutMs: 2000, ackTimeoutMs: 5000 }),
  unreachablePublisher: () => new RabbitMqPublisher({ url: 'amqp://guest:guest@127.0.0.1:1/', timeoutMs: 1500, ackTimeoutMs: 1500 }),
  topic: async () => {
    const topic = uniqueName('conformance').replace('_', '.');
    await withChannel(async (ch) => {
      await ch.assertExchange(EXCHANGE, 'topic', { durable: true });
      await ch.assertQueue(topic, { durable: true });
      await ch.bindQueue(topic, EXCHANGE, topic);
    });
    queues.push(topic);
    return topic;
  },
  read: readQueue,
  ordersPerKey: true,
  permanentRejection: async (publisher) => {
    await withChannel((ch) => ch.assertExchange(EXCHANGE, 'topic', { durable: true }));
    // No queue is bound for this routing key: the mandatory message comes back.
    return publisher.publish([outgoing(uniqueName('unbound').replace('_', '.'), 'k', 0)]).then(
      () => undefined,
      (e: unknown) => e,
    );
  },
  restart: restartRabbitMq,
  cleanup: async () => {
    const names = queues.splice(0);
    if (names.length > 0) await withChannel(async (ch) => void (await Promise.all(names.map((q) => ch.deleteQueue(q)))));
  },
};
