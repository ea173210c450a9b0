import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { RabbitMqSubscriber } from '../../src/brokers/rabbitmq/subscriber.js';
import { rabbitMqDefaults } from '../../src/brokers/rabbitmq/publisher.js';
import { uniqueName } from '../support/services.js';
import { collect, subscriberConformance } from './subscriber-conformance.js';
import { RABBITMQ, withChannel } from './targets/rabbitmq.js';
import { rabbitMqSubscriberTarget } from './targets/rabbitmq-subscriber.js';

subscriberConformance(rabbitMqSubscriberTarget);

describe('rabbitmq subscriber', () => {
  afterAll(async () => {
    await rabbitMqSubscriberTarget.cleanup?.();
  });

  it('refuses a group that makes a reserved queue name, naming the option', () => {
    expect(() => new RabbitMqSubscriber({ url: RABBITMQ, topics: ['orders'], group: 'amq.x' })).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID', details: { option: 'group' } }),
    );
  });

  it('never shows the password of a url it cannot reach', async () => {
    const subscriber = new RabbitMqSubscriber({ url: 'amqp://guest:s3cret-pw@127.0.0.1:1/', topics: ['t'], group: 'g' });
    const error = (await subscriber.prepare().catch((e: unknown) => e)) as Error;
    expect(error).toMatchObject({ code: 'BROKER_UNAVAILABLE' });
    expect(error.message).not.toContain('s3cret-pw');
    await subscriber.close();
  });

  it('takes the id from the message-id when a producer sends no cloudEvents: headers', async () => {
    const topic = await rabbitMqSubscriberTarget.topic();
    const group = uniqueName('foreign');
    const subscriber = rabbitMqSubscriberTarget.subscriber({ topics: [topic], group, createSubscriptions: true });
    await subscriber.prepare();
    const messageId = randomUUID();
    await withChannel(async (ch) => {
      ch.publish(rabbitMqDefaults.exchange, topic, Buffer.from('{"plain":true}'), { messageId, persistent: true });
      await ch.prefetch(1); // a round trip, so the publish has reached the broker
    });
    const { events } = await collect(subscriber, 1).finally(() => subscriber.close());
    expect(events).toEqual([{ topic, position: messageId, attributes: { id: messageId }, data: '{"plain":true}' }]);
  });
});
