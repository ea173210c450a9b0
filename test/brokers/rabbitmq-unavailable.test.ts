import { describe, expect, it } from 'vitest';
import { rabbitMqUnavailable } from '../../src/brokers/rabbitmq/publisher.js';

describe('rabbitMqUnavailable', () => {
  it('takes a connection dropped mid-publish for an unavailable broker, not a refused batch', () => {
    // amqplib's message when the socket closes under an open channel (seen with a link reset).
    expect(rabbitMqUnavailable(new Error('Unexpected close'), 'Unexpected close')).toBe(true);
    expect(rabbitMqUnavailable(new Error('Channel closed'), 'Channel closed')).toBe(true);
    expect(rabbitMqUnavailable(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), 'connect ECONNREFUSED')).toBe(
      true,
    );
    expect(rabbitMqUnavailable(Object.assign(new Error('CONNECTION_FORCED'), { code: 320 }), 'CONNECTION_FORCED')).toBe(true);
  });

  it('leaves a broker that answers with a refusal alone', () => {
    expect(
      rabbitMqUnavailable(Object.assign(new Error('PRECONDITION_FAILED'), { code: 406 }), 'PRECONDITION_FAILED - inequivalent arg'),
    ).toBe(false);
    expect(rabbitMqUnavailable(new Error('message nacked'), 'message nacked')).toBe(false);
    expect(rabbitMqUnavailable(new Error('enclosed payload'), 'enclosed payload')).toBe(false);
  });
});
