/**
 * SQS publisher conformance, against fauxqs (see `targets/sqs.ts`): no AWS is reached.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publisherFor } from '../../src/brokers/broker-url.js';
import { SqsPublisher } from '../../src/brokers/sqs/publisher.js';
import { ErrorCodes, isHeraldError } from '../../src/errors.js';
import { outgoing, publisherConformance } from './conformance.js';
import { REGION, credentials, endpoint, startSnsTarget, stopSnsTarget } from './targets/sns.js';
import { createQueue, queues, readSqs, sqsPublisher, sqsTarget } from './targets/sqs.js';

beforeAll(startSnsTarget);
afterAll(stopSnsTarget);

publisherConformance(sqsTarget(false));
publisherConformance(sqsTarget(true));

describe('sqs publisher specifics (fauxqs)', () => {
  it('maps a FIFO event to MessageGroupId = partition key and MessageDeduplicationId = event id, and a retried event is dropped', async () => {
    const queue = await createQueue(true);
    const p = sqsPublisher();
    try {
      const events = Array.from({ length: 12 }, (_, i) => outgoing(queue, `g-${i % 2}`, i));
      await p.publish(events);
      await p.publish(events.slice(0, 5)); // a relay retrying after a lost acknowledgement
      const received = await readSqs(queue, events.length);
      expect(received.map((m) => m.id).sort()).toEqual(events.map((e) => e.event.id).sort());
      for (const m of received) {
        expect(m.dedupId).toBe(m.id);
        expect(m.orderingKey).toBe(m.attributes.partitionkey);
      }
    } finally {
      await p.close();
    }
  });

  it('refuses a missing queue in prepare, or creates it (FIFO by name) when allowed, via sqs:// URLs', async () => {
    const name = `missing-${Date.now()}.fifo`;
    expect(await publisherFor(`sqs://${REGION}`)).toBeInstanceOf(SqsPublisher);
    const strict = new SqsPublisher({ url: `sqs://${REGION}?endpoint=${endpoint}`, credentials });
    const err = await strict.prepare([name]).catch((e: unknown) => e);
    await strict.close();
    expect(isHeraldError(err, ErrorCodes.TOPIC_NOT_FOUND)).toBe(true);
    expect((err as Error).message).toContain(`sqs queue '${name}' does not exist in ${endpoint} (region ${REGION}); create it`);

    const creating = new SqsPublisher({ url: `sqs://${REGION}?endpoint=${endpoint}`, credentials, createTopics: true });
    try {
      await creating.prepare([name]);
      await creating.publish([outgoing(name, 'k', 1)]);
    } finally {
      await creating.close();
    }
    const { SQSClient, GetQueueUrlCommand } = await import('@aws-sdk/client-sqs');
    const client = new SQSClient({ region: REGION, endpoint, credentials });
    const { QueueUrl } = await client.send(new GetQueueUrlCommand({ QueueName: name }));
    client.destroy();
    queues.set(name, { url: QueueUrl!, received: [] });
    expect((await readSqs(name, 1)).map((m) => m.orderingKey)).toEqual(['k']);
  });

  it('refuses a malformed sqs URL, naming the expected form and never a credential', () => {
    expect(() => new SqsPublisher({ url: 'sqs://nowhere' })).toThrow(/'nowhere' is not an AWS region; write it as sqs:\/\/<region>/);
    expect(() => new SqsPublisher({ url: 'sqs://eu-west-1?endpoint=http://AKIA:s3cret@127.0.0.1:1' })).toThrow(/without credentials/);
    let message = '';
    try {
      new SqsPublisher({ url: 'sqs://eu-west-1?endpoint=http://AKIA:s3cret@127.0.0.1:1' });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).not.toContain('s3cret');
  });
});
