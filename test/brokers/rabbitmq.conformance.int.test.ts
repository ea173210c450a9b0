import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { connect, type Channel, type Message } from 'amqplib';
import { afterEach, describe, expect, it } from 'vitest';
import { RabbitMqPublisher, rabbitMqDefaults } from '../../src/brokers/rabbitmq.js';
import { uniqueName, waitFor } from '../support/services.js';
import { outgoing, publisherConformance, type ReceivedMessage } from './conformance.js';

const run = promisify(execFile);

/** The RabbitMQ installed on this machine (guest/guest). */
const RABBITMQ = process.env.HERALD_TEST_RABBITMQ ?? 'amqp://guest:guest@127.0.0.1:5672/';
const EXCHANGE = rabbitMqDefaults.exchange;

/** Runs `fn` on a channel of a connection of its own, which the restart test may have broken. */
async function withChannel<T>(fn: (channel: Channel) => Promise<T>): Promise<T> {
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

/** Takes every message off `queue` with basic.get, waiting at most 5 s for `atLeast` of them. */
function readQueue(queue: string, atLeast: number): Promise<ReceivedMessage[]> {
  return withChannel(async (ch) => {
    const out: ReceivedMessage[] = [];
    const deadline = Date.now() + 5_000;
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

publisherConformance({
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
});

describe('rabbitmq publisher', () => {
  const open: RabbitMqPublisher[] = [];
  const exchanges: string[] = [];
  afterEach(async () => {
    for (const p of open.splice(0)) await p.close();
    const names = exchanges.splice(0);
    await withChannel(async (ch) => void (await Promise.all(names.map((x) => ch.deleteExchange(x)))));
  });

  it('reports a missing exchange as TOPIC_NOT_FOUND until prepare() declares it, then rejects an unroutable event naming the routing key', async () => {
    const exchange = uniqueName('herald.missing');
    exchanges.push(exchange);
    const strict = new RabbitMqPublisher({ url: RABBITMQ, exchange });
    const lenient = new RabbitMqPublisher({ url: RABBITMQ, exchange, createExchange: true });
    open.push(strict, lenient);

    await expect(strict.prepare(['orders'])).rejects.toMatchObject({ code: 'TOPIC_NOT_FOUND', message: expect.stringContaining(exchange) });
    await expect(strict.publish([outgoing('orders', 'k', 0)])).rejects.toMatchObject({ code: 'TOPIC_NOT_FOUND' });

    await lenient.prepare(['orders']);
    await withChannel((ch) => ch.checkExchange(exchange));
    // The 404 closed the strict publisher's channel; its next publish runs on a fresh one.
    const err = await strict.publish([outgoing('orders', 'k', 1)]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'PUBLISH_REJECTED', retryable: false });
    expect((err as Error).message).toContain(`exchange '${exchange}' with routing key 'orders'`);
  });

  it('validates the url and never shows its password', async () => {
    expect(() => new RabbitMqPublisher({ url: 'http://guest:hunter2@localhost/' })).toThrow(/^(?!.*hunter2).*'url'/);
    expect(() => new RabbitMqPublisher({ url: 'amqp://127.0.0.1', ackTimeoutMs: 0 })).toThrow(/'ackTimeoutMs'/);
    const publisher = new RabbitMqPublisher({ url: 'amqp://guest:hunter2@127.0.0.1:1/', timeoutMs: 1000 });
    open.push(publisher);
    const err = await publisher.publish([outgoing('t', 'k', 0)]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'BROKER_UNAVAILABLE', message: expect.stringContaining('amqp://guest:***@127.0.0.1:1/') });
    expect((err as Error).message).not.toContain('hunter2');
  });
});
