/**
 * The SQS target: the same fauxqs process as the SNS target (see `sns.ts`), queues created and
 * read with `@aws-sdk/client-sqs`. No AWS is reached.
 */
import { randomUUID } from 'node:crypto';
import { CreateQueueCommand, DeleteQueueCommand } from '@aws-sdk/client-sqs';
import type { Publisher } from '../../../src/brokers/publisher.js';
import { SqsPublisher } from '../../../src/brokers/sqs/publisher.js';
import { outgoing, type ConformanceTarget, type ReceivedMessage } from '../conformance.js';
import { REGION, credentials, endpoint, readQueue, restartFauxqs, sqs } from './sns.js';

/** Each test queue's URL and what was read from it, by queue name. */
export const queues = new Map<string, { url: string; received: ReceivedMessage[] }>();

/** A fresh queue (FIFO when asked), created with the SDK. */
export async function createQueue(fifo: boolean): Promise<string> {
  const name = `conformance-${randomUUID().slice(0, 8)}${fifo ? '.fifo' : ''}`;
  await make(name, []);
  return name;
}

async function make(name: string, received: ReceivedMessage[]): Promise<void> {
  const { QueueUrl } = await sqs.send(
    new CreateQueueCommand({ QueueName: name, ...(name.endsWith('.fifo') ? { Attributes: { FifoQueue: 'true' } } : {}) }),
  );
  queues.set(name, { url: QueueUrl!, received });
}

export function readSqs(queue: string, atLeast: number, timeoutMs?: number): Promise<ReceivedMessage[]> {
  const q = queues.get(queue)!;
  return readQueue(q.url, q.received, atLeast, timeoutMs);
}

export const sqsPublisher = (): SqsPublisher =>
  new SqsPublisher({ url: `sqs://${REGION}?endpoint=${endpoint}`, credentials, timeoutMs: 2_000, maxAttempts: 1 });

/** A conformance target on a standard or a FIFO queue (only FIFO queues keep per-key order). */
export function sqsTarget(fifo: boolean): ConformanceTarget {
  return {
    name: `sqs (${fifo ? 'FIFO' : 'standard'} queue, fauxqs)`,
    publisher: sqsPublisher,
    unreachablePublisher: () =>
      new SqsPublisher({ url: `sqs://${REGION}?endpoint=http://127.0.0.1:1`, credentials, timeoutMs: 1_000, maxAttempts: 1 }),
    topic: () => createQueue(fifo),
    read: readSqs,
    ordersPerKey: fifo,
    async permanentRejection(p: Publisher): Promise<unknown> {
      const queue = await createQueue(fifo);
      await p.prepare([queue]);
      const big = { ...outgoing(queue, 'big', 0), data: JSON.stringify({ filler: 'x'.repeat(1_100_000) }) }; // over SQS's 1 MiB
      return p.publish([big]).then(
        () => undefined,
        (e: unknown) => e,
      );
    },
    async restart() {
      // fauxqs keeps everything in memory: read what arrived (as a consumer would), restart, recreate the queues.
      for (const name of queues.keys()) await readSqs(name, 0, 1_000);
      const known = [...queues.entries()];
      await restartFauxqs();
      for (const [name, q] of known) await make(name, q.received);
    },
    async cleanup() {
      for (const q of queues.values()) await sqs.send(new DeleteQueueCommand({ QueueUrl: q.url })).catch(() => undefined);
      queues.clear();
    },
  };
}
