/**
 * The SNS target: fauxqs (an SNS/SQS emulator from npm) in this process on a random 127.0.0.1
 * port. No AWS is reached. fauxqs delivers SNS messages to SQS subscriptions only, so each topic
 * gets an SQS queue subscribed with raw message delivery (a FIFO queue for a FIFO topic), read back
 * with `@aws-sdk/client-sqs`. Caveat: fauxqs deduplicates in the FIFO *queue*, not in the topic as SNS does.
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
import type { Publisher } from '../../../src/brokers/publisher.js';
import { SnsPublisher } from '../../../src/brokers/sns/publisher.js';
import { outgoing, type ConformanceTarget, type ReceivedMessage } from '../conformance.js';

export const REGION = 'us-east-1';
/** Dummy static credentials for the stand-in; the library itself uses the SDK default chain. */
export const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };

let server: Awaited<ReturnType<typeof startFauxqs>> | undefined;
/** The emulator's URL, once {@link startSnsTarget} ran. */
export let endpoint = '';
let sns: SNSClient;
/** An SQS client of the emulator, once {@link startSnsTarget} ran. */
export let sqs: SQSClient;

/** Starts fauxqs on a random 127.0.0.1 port (once); call it in `beforeAll`. */
export async function startSnsTarget(): Promise<void> {
  if (server) return;
  server = await startFauxqs({ port: 0, host: '127.0.0.1', logger: false });
  endpoint = `http://127.0.0.1:${server.port}`;
  sns = new SNSClient({ region: REGION, endpoint, credentials });
  sqs = new SQSClient({ region: REGION, endpoint, credentials });
}

/** Stops the emulator and its clients. */
export async function stopSnsTarget(): Promise<void> {
  sns?.destroy();
  sqs?.destroy();
  await server?.stop();
  server = undefined;
}

interface Subscription {
  readonly topicArn: string;
  readonly queueUrl: string;
  readonly received: ReceivedMessage[];
}
/** Each test topic's queue and what was read from it, by topic name. */
export const subscriptions = new Map<string, Subscription>();

/** A topic, and an SQS queue subscribed to it with raw message delivery. */
export async function createTopic(fifo: boolean): Promise<string> {
  const name = `conformance-${randomUUID().slice(0, 8)}${fifo ? '.fifo' : ''}`;
  await subscribe(name, []);
  return name;
}

/** Creates topic `name` (FIFO when it ends in `.fifo`) with its subscribed queue; keeps `received`. */
async function subscribe(name: string, received: ReceivedMessage[]): Promise<void> {
  const fifo = name.endsWith('.fifo');
  const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: name, ...(fifo ? { Attributes: { FifoTopic: 'true' } } : {}) }));
  const { QueueUrl } = await sqs.send(
    new CreateQueueCommand({ QueueName: `q-${name}`, ...(fifo ? { Attributes: { FifoQueue: 'true' } } : {}) }),
  );
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
  await sns.send(
    new SubscribeCommand({ TopicArn, Protocol: 'sqs', Endpoint: Attributes!.QueueArn, Attributes: { RawMessageDelivery: 'true' } }),
  );
  subscriptions.set(name, { topicArn: TopicArn!, queueUrl: QueueUrl!, received });
}

/**
 * Restarts the emulator on the same port. fauxqs keeps everything in memory, so what already
 * arrived is read first (as a consumer would), and every topic, queue and subscription is created
 * again after the restart; the publisher under test is not told anything.
 */
async function restartSns(): Promise<void> {
  for (const topic of subscriptions.keys()) await readTopic(topic, 0, 1_000);
  const known = [...subscriptions.entries()];
  await restartFauxqs();
  for (const [name, sub] of known) await subscribe(name, sub.received);
}

/** Stops fauxqs and starts it again on the same port with nothing in it, with new clients. */
export async function restartFauxqs(): Promise<void> {
  const port = server!.port;
  await stopSnsTarget();
  server = await startFauxqs({ port, host: '127.0.0.1', logger: false });
  sns = new SNSClient({ region: REGION, endpoint, credentials });
  sqs = new SQSClient({ region: REGION, endpoint, credentials });
}

/** Drains the topic's queue (deleting what it got, so FIFO groups move on) until `atLeast` arrived, then once more. */
export async function readTopic(topic: string, atLeast: number, timeoutMs = 5_000): Promise<ReceivedMessage[]> {
  const sub = subscriptions.get(topic)!;
  return readQueue(sub.queueUrl, sub.received, atLeast, timeoutMs);
}

/** Drains an SQS queue into `received` (deleting what it got) until `atLeast` arrived, then once more; returns a copy. */
export async function readQueue(
  queueUrl: string,
  received: ReceivedMessage[],
  atLeast: number,
  timeoutMs = 5_000,
): Promise<ReceivedMessage[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const enough = received.length >= atLeast;
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
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
      received.push({
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
          QueueUrl: queueUrl,
          Entries: Messages.map((m, i) => ({ Id: `m${i}`, ReceiptHandle: m.ReceiptHandle! })),
        }),
      );
    }
    if ((enough && Messages.length === 0) || Date.now() > deadline) return [...received];
  }
}

export async function cleanup(): Promise<void> {
  for (const [, sub] of subscriptions) {
    await sns.send(new DeleteTopicCommand({ TopicArn: sub.topicArn })).catch(() => undefined);
    await sqs.send(new DeleteQueueCommand({ QueueUrl: sub.queueUrl })).catch(() => undefined);
  }
  subscriptions.clear();
}

export const publisher = (): SnsPublisher =>
  new SnsPublisher({ url: `sns://${REGION}?endpoint=${endpoint}`, credentials, timeoutMs: 2_000, maxAttempts: 1 });
export const unreachablePublisher = (): SnsPublisher =>
  new SnsPublisher({ url: `sns://${REGION}?endpoint=http://127.0.0.1:1`, credentials, timeoutMs: 1_000, maxAttempts: 1 });

/** A message over SNS's 256 KiB limit: PublishBatch fails the entry with SenderFault=true. */
export async function tooLarge(p: Publisher, fifo: boolean): Promise<unknown> {
  const topic = await createTopic(fifo);
  await p.prepare([topic]);
  const big = { ...outgoing(topic, 'big', 0), data: JSON.stringify({ filler: 'x'.repeat(300_000) }) };
  return p.publish([big]).then(
    () => undefined,
    (e: unknown) => e,
  );
}

/** A conformance target on a standard or a FIFO topic (only FIFO topics keep per-key order). */
export function snsTarget(fifo: boolean): ConformanceTarget {
  return {
    name: `sns (${fifo ? 'FIFO' : 'standard'} topic, fauxqs)`,
    publisher,
    unreachablePublisher,
    topic: () => createTopic(fifo),
    read: readTopic,
    ordersPerKey: fifo,
    permanentRejection: (p) => tooLarge(p, fifo),
    restart: restartSns,
    cleanup,
  };
}
