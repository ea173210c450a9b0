/**
 * SNS publisher conformance, against fauxqs (an SNS/SQS emulator from npm) started in-process on a
 * random port. No AWS is reached: every client here points at 127.0.0.1.
 *
 * fauxqs delivers SNS messages to SQS subscriptions only (no HTTP subscriptions), so each test topic
 * gets an SQS queue subscribed with raw message delivery (FIFO queue for a FIFO topic), read back
 * with `@aws-sdk/client-sqs`: body, message attributes, MessageGroupId, MessageDeduplicationId.
 * Caveat: fauxqs deduplicates in the FIFO *queue* a message fans out to, not in the topic as SNS does.
 */
import { randomUUID } from 'node:crypto';
import { CreateTopicCommand, DeleteTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { startFauxqs } from 'fauxqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publisherFor } from '../../src/brokers/broker-url.js';
import type { Publisher } from '../../src/brokers/publisher.js';
import { SnsPublisher, parseSnsUrl } from '../../src/brokers/sns.js';
import { outgoing, publisherConformance, type ReceivedMessage } from './conformance.js';

const REGION = 'us-east-1';
/** Dummy static credentials for the stand-in; the library itself uses the SDK default chain. */
const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };

let server: Awaited<ReturnType<typeof startFauxqs>>;
let endpoint = '';
let sns: SNSClient;
let sqs: SQSClient;

beforeAll(async () => {
  server = await startFauxqs({ port: 0, host: '127.0.0.1', logger: false });
  endpoint = `http://127.0.0.1:${server.port}`;
  sns = new SNSClient({ region: REGION, endpoint, credentials });
  sqs = new SQSClient({ region: REGION, endpoint, credentials });
});

afterAll(async () => {
  sns?.destroy();
  sqs?.destroy();
  await server?.stop();
});

interface Subscription {
  readonly topicArn: string;
  readonly queueUrl: string;
  readonly received: ReceivedMessage[];
}
const subscriptions = new Map<string, Subscription>();

/** A topic, and an SQS queue subscribed to it with raw message delivery. */
async function createTopic(fifo: boolean): Promise<string> {
  const name = `conformance-${randomUUID().slice(0, 8)}${fifo ? '.fifo' : ''}`;
  const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: name, ...(fifo ? { Attributes: { FifoTopic: 'true' } } : {}) }));
  const { QueueUrl } = await sqs.send(
    new CreateQueueCommand({ QueueName: `q-${name}`, ...(fifo ? { Attributes: { FifoQueue: 'true' } } : {}) }),
  );
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
  await sns.send(
    new SubscribeCommand({ TopicArn, Protocol: 'sqs', Endpoint: Attributes!.QueueArn, Attributes: { RawMessageDelivery: 'true' } }),
  );
  subscriptions.set(name, { topicArn: TopicArn!, queueUrl: QueueUrl!, received: [] });
  return name;
}

/** Drains the topic's queue (deleting what it got, so FIFO groups move on) until `atLeast` arrived, then once more. */
async function readTopic(topic: string, atLeast: number, timeoutMs = 5_000): Promise<ReceivedMessage[]> {
  const sub = subscriptions.get(topic)!;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const enough = sub.received.length >= atLeast;
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: sub.queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: enough ? 0 : 1,
        MessageAttributeNames: ['All'],
        MessageSystemAttributeNames: ['All'],
      }),
    );
    for (const m of Messages) {
      const attributes: Record<string, string> = {};
      for (const [name, value] of Object.entries(m.MessageAttributes ?? {})) {
        if (name.startsWith('ce-') && value.StringValue !== undefined) attributes[name.slice(3)] = value.StringValue;
      }
      sub.received.push({
        id: attributes.id!,
        data: m.Body!,
        attributes,
        ...(m.Attributes?.MessageDeduplicationId === undefined ? {} : { dedupId: m.Attributes.MessageDeduplicationId }),
        ...(m.Attributes?.MessageGroupId === undefined ? {} : { orderingKey: m.Attributes.MessageGroupId }),
      });
    }
    if (Messages.length > 0) {
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: sub.queueUrl,
          Entries: Messages.map((m, i) => ({ Id: `m${i}`, ReceiptHandle: m.ReceiptHandle! })),
        }),
      );
    }
    if ((enough && Messages.length === 0) || Date.now() > deadline) return [...sub.received];
  }
}

async function cleanup(): Promise<void> {
  for (const [, sub] of subscriptions) {
    await sns.send(new DeleteTopicCommand({ TopicArn: sub.topicArn })).catch(() => undefined);
    await sqs.send(new DeleteQueueCommand({ QueueUrl: sub.queueUrl })).catch(() => undefined);
  }
  subscriptions.clear();
}

const publisher = (): SnsPublisher =>
  new SnsPublisher({ url: `sns://${REGION}?endpoint=${endpoint}`, credentials, timeoutMs: 2_000, maxAttempts: 1 });
const unreachablePublisher = (): SnsPublisher =>
  new SnsPublisher({ url: `sns://${REGION}?endpoint=http://127.0.0.1:1`, credentials, timeoutMs: 1_000, maxAttempts: 1 });

/** A message over SNS's 256 KiB limit: PublishBatch fails the entry with SenderFault=true. */
async function tooLarge(p: Publisher, fifo: boolean): Promise<unknown> {
  const topic = await createTopic(fifo);
  await p.prepare([topic]);
  const big = { ...outgoing(topic, 'big', 0), data: JSON.stringify({ filler: 'x'.repeat(300_000) }) };
  return p.publish([big]).then(
    () => undefined,
    (e: unknown) => e,
  );
}

publisherConformance({
  name: 'sns (standard topic, fauxqs)',
  publisher,
  unreachablePublisher,
  topic: () => createTopic(false),
  read: readTopic,
  ordersPerKey: false,
  permanentRejection: (p) => tooLarge(p, false),
  cleanup,
});

publisherConformance({
  name: 'sns (FIFO topic, fauxqs)',
  publisher,
  unreachablePublisher,
  topic: () => createTopic(true),
  read: readTopic,
  ordersPerKey: true,
  permanentRejection: (p) => tooLarge(p, true),
  cleanup,
});

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
