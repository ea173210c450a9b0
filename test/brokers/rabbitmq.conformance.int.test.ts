import { afterEach, describe, expect, it } from 'vitest';
import { RabbitMqPublisher } from '../../src/brokers/rabbitmq/publisher.js';
import { uniqueName } from '../support/services.js';
import { deliveredOf } from '../../src/brokers/publisher.js';
import { outgoing, publisherConformance } from './conformance.js';
import { RABBITMQ, rabbitMqTarget, withChannel } from './targets/rabbitmq.js';

publisherConformance(rabbitMqTarget);

describe('rabbitmq publisher', () => {
  it('reports, with a refusal, the events a queue took (per key up to its first refusal), so that they are not sent again', async () => {
    const topic = await rabbitMqTarget.topic();
    const publisher = rabbitMqTarget.publisher();
    try {
      const unbound = uniqueName('unbound').replace('_', '.');
      const batch = [outgoing(topic, 'a', 0), outgoing(unbound, 'b', 0), outgoing(topic, 'a', 1), outgoing(unbound, 'b', 1)];
      const err = await publisher.publish(batch).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'PUBLISH_REJECTED' });
      expect(deliveredOf(err, batch.length)).toEqual([0, 2]);
      expect((await rabbitMqTarget.read(topic, 2)).map((m) => m.id)).toEqual([batch[0]!.event.id, batch[2]!.event.id]);
    } finally {
      await publisher.close();
      await rabbitMqTarget.cleanup?.();
    }
  });

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
