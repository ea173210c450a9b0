/**
 * SNS and SQS publishers: a batch refused in part reports what the service stored (fauxqs, in
 * this process; no AWS is reached). Before, a rejection said nothing, and the relay re-sent the
 * stored entries one by one: duplicates with no crash.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliveredOf, type OutgoingEvent, type Publisher } from '../../src/brokers/publisher.js';
import { ErrorCodes, isHeraldError } from '../../src/errors.js';
import { outgoing, type ReceivedMessage } from './conformance.js';
import { cleanup, createTopic, publisher as snsPublisher, readTopic, startSnsTarget, stopSnsTarget } from './targets/sns.js';
import { createQueue, readSqs, sqsPublisher } from './targets/sqs.js';

beforeAll(startSnsTarget);
afterAll(async () => {
  await cleanup();
  await stopSnsTarget();
});

const services: { name: string; publisher: () => Publisher; destination: (fifo: boolean) => Promise<string>; read: typeof readTopic; tooBig: number }[] = [
  { name: 'sns', publisher: snsPublisher, destination: createTopic, read: readTopic, tooBig: 300_000 },
  { name: 'sqs', publisher: sqsPublisher, destination: createQueue, read: readSqs, tooBig: 1_100_000 },
];

describe.each(services)('$name publisher: a batch refused in part', ({ publisher, destination, read, tooBig }) => {
  it.each([false, true])('reports the stored events, per key a prefix, and those are exactly what arrived (FIFO %s)', async (fifo) => {
    const topic = await destination(fifo);
    const p = publisher();
    try {
      await p.prepare([topic]);
      // 24 events on 3 keys (more than two requests of 10); key b's second event is too large.
      const batch: OutgoingEvent[] = Array.from({ length: 24 }, (_, i) => outgoing(topic, ['a', 'b', 'c'][i % 3]!, i));
      batch[4] = { ...batch[4]!, data: JSON.stringify({ filler: 'x'.repeat(tooBig) }) };
      const err = await p.publish(batch).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isHeraldError(err, ErrorCodes.PUBLISH_REJECTED)).toBe(true);

      const reported = deliveredOf(err, batch.length);
      expect(reported.length).toBeGreaterThan(0);
      // Nothing of key b from the refused event on is reported: the relay retries those in order.
      expect(reported.filter((i) => batch[i]!.event.partitionkey === 'b' && i >= 4)).toEqual([]);
      const arrived: ReceivedMessage[] = await read(topic, reported.length, 3_000);
      const arrivedIds = new Set(arrived.map((m) => m.id));
      for (const i of reported) expect(arrivedIds.has(batch[i]!.event.id), `reported event ${i} arrived`).toBe(true);
      expect(arrivedIds.has(batch[4]!.event.id)).toBe(false);
    } finally {
      await p.close();
    }
  });
});
