/**
 * SNS publisher conformance, against fauxqs (see `targets/sns.ts`): no AWS is reached.
 */
import { randomUUID } from 'node:crypto';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publisherFor } from '../../src/brokers/broker-url.js';
import { SnsPublisher, parseSnsUrl } from '../../src/brokers/sns/publisher.js';
import { outgoing, publisherConformance } from './conformance.js';
import {
  REGION,
  cleanup,
  createTopic,
  credentials,
  endpoint,
  publisher,
  readTopic,
  snsTarget,
  sqs,
  startSnsTarget,
  subscriptions,
  stopSnsTarget,
} from './targets/sns.js';

beforeAll(startSnsTarget);
afterAll(stopSnsTarget);

publisherConformance(snsTarget(false));
publisherConformance(snsTarget(true));

describe('sns publisher specifics (fauxqs)', () => {
  it('maps a FIFO event to MessageGroupId = partition key and MessageDeduplicationId = event id, and a retried event is dropped', async () => {
    const topic = await createTopic(true);
    const p = publisher();
    try {
      await p.prepare([topic]);
      const events = Array.from({ length: 12 }, (_, i) => outgoing(topic, `g-${i % 2}`, i));
      await p.publish(events);
      // A relay retrying after a lost acknowledgement sends the same events again.
      await p.publish(events.slice(0, 5));
      const received = await readTopic(topic, events.length);
      expect(received.map((m) => m.id).sort()).toEqual(events.map((e) => e.event.id).sort());
      for (const m of received) {
        expect(m.dedupId).toBe(m.id);
        expect(m.orderingKey).toBe(m.attributes.partitionkey);
      }
    } finally {
      await p.close();
      await cleanup();
    }
  });

  it('carries content-type and at most 10 message attributes', async () => {
    const topic = await createTopic(false);
    const p = publisher();
    try {
      await p.prepare([topic]);
      await p.publish([outgoing(topic, 'k', 1)]);
      const sub = subscriptions.get(topic)!;
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: sub.queueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 1, MessageAttributeNames: ['All'] }),
      );
      const names = Object.keys(Messages[0]!.MessageAttributes ?? {});
      expect(names.length).toBeLessThanOrEqual(10);
      expect(Messages[0]!.MessageAttributes!['content-type']!.StringValue).toBe('application/json');
    } finally {
      await p.close();
      await cleanup();
    }
  });

  it('prepare names a missing topic as TOPIC_NOT_FOUND, and creates it (FIFO for .fifo) with createTopics', async () => {
    const name = `missing-${randomUUID().slice(0, 8)}.fifo`;
    const p = publisher();
    try {
      await expect(p.prepare([name])).rejects.toMatchObject({ code: 'TOPIC_NOT_FOUND', message: expect.stringContaining(name) });
      const creating = new SnsPublisher({ url: `sns://${REGION}?endpoint=${endpoint}`, credentials, createTopics: true, maxAttempts: 1 });
      await creating.prepare([name]);
      await creating.close();
      await p.prepare([name]);
    } finally {
      await p.close();
    }
  });

  it('publishing to a topic that does not exist is TOPIC_NOT_FOUND, retryable', async () => {
    const p = publisher();
    try {
      const err = await p.publish([outgoing(`absent-${randomUUID().slice(0, 8)}`, 'k', 0)]).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ code: 'TOPIC_NOT_FOUND', retryable: true });
    } finally {
      await p.close();
    }
  });

  it('builds topic ARNs from accountId without ListTopics, and keeps order across PublishBatch requests of 10', async () => {
    const topic = await createTopic(true);
    const p = new SnsPublisher({ url: `sns://${REGION}?endpoint=${endpoint}&accountId=000000000000`, credentials, maxAttempts: 1 });
    try {
      const events = Array.from({ length: 25 }, (_, i) => outgoing(topic, 'one-key', i));
      await p.publish(events);
      const received = await readTopic(topic, events.length);
      expect(received.map((m) => m.id)).toEqual(events.map((e) => e.event.id));
    } finally {
      await p.close();
      await cleanup();
    }
  });

  it('publisherFor builds it from sns://region?endpoint=...', async () => {
    const p = await publisherFor(`sns://${REGION}?endpoint=http://127.0.0.1:1`);
    expect(p.name).toBe('sns');
    await p.close();
  });

  it('parses sns:// URLs and refuses malformed ones', () => {
    expect(parseSnsUrl('sns://eu-west-1')).toEqual({ region: 'eu-west-1', endpoint: undefined, accountId: undefined });
    expect(parseSnsUrl('sns://us-east-1?endpoint=http://127.0.0.1:4566&accountId=000000000000')).toEqual({
      region: 'us-east-1',
      endpoint: 'http://127.0.0.1:4566',
      accountId: '000000000000',
    });
    for (const bad of [
      'sns://',
      'sns://not a region',
      'sns://eu-west-1?endpoint=ftp://x',
      'sns://eu-west-1?accountId=12',
      'sns://eu-west-1?foo=1',
    ]) {
      expect(() => parseSnsUrl(bad), bad).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    }
  });
});
