import { afterEach, describe, expect, it } from 'vitest';
import type { Publisher } from '../../src/brokers/publisher.js';
import type { IncomingEvent, Subscriber, SubscriberOptions } from '../../src/brokers/subscriber.js';
import { uniqueName } from '../support/services.js';
import { outgoing } from './conformance.js';

/** One broker under test, from the consuming side. */
export interface SubscriberTarget {
  readonly name: string;
  /** Herald's publisher for this broker, connected to the real server. */
  publisher(): Publisher;
  /** A fresh topic (stream, exchange binding...) that exists and that `publisher()` can publish to. */
  topic(): Promise<string>;
  /** A subscriber on the real server. */
  subscriber(options: SubscriberOptions): Subscriber;
  /** A subscriber pointed at an address where no server listens. */
  unreachableSubscriber(options: SubscriberOptions): Subscriber;
  /** Whether a missing subscription is an error without `createSubscriptions` (not for Kafka groups). */
  readonly subscriptionsMustExist: boolean;
  /** Deletes what `topic()` and the subscribers created. */
  cleanup?(): Promise<void>;
}

/**
 * Reads batches until `atLeast` events arrived or `timeoutMs` passed, acknowledging each batch
 * when `ack` is true. Returns the events and the batch sizes.
 */
export async function collect(
  subscriber: Subscriber,
  atLeast: number,
  { ack = true, timeoutMs = 15_000 }: { ack?: boolean; timeoutMs?: number } = {},
): Promise<{ events: IncomingEvent[]; sizes: number[] }> {
  const events: IncomingEvent[] = [];
  const sizes: number[] = [];
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    for await (const batch of subscriber.batches(abort.signal)) {
      events.push(...batch.events);
      sizes.push(batch.events.length);
      if (ack) await batch.ack();
      if (events.length >= atLeast) break;
    }
  } finally {
    clearTimeout(timer);
  }
  return { events, sizes };
}

/**
 * The subscriber conformance suite: every subscriber runs it against its real server. It checks
 * what the loader relies on: everything published arrives with its attributes and bytes, an
 * unacknowledged batch comes again, an acknowledged one does not.
 */
export function subscriberConformance(target: SubscriberTarget): void {
  describe(`${target.name} subscriber conformance`, () => {
    const open: { close(): Promise<void> }[] = [];
    const track = <T extends { close(): Promise<void> }>(x: T): T => {
      open.push(x);
      return x;
    };
    afterEach(async () => {
      for (const x of open.splice(0)) await x.close();
      await target.cleanup?.();
    });

    async function setUp(options: Partial<SubscriberOptions> = {}): Promise<{ topic: string; group: string; publisher: Publisher }> {
      const topic = await target.topic();
      const group = uniqueName('loader');
      // The subscription must exist before publishing: Pub/Sub subscriptions and RabbitMQ queues
      // only receive what is published after they exist.
      const first = track(target.subscriber({ topics: [topic], group, createSubscriptions: true, ...options }));
      await first.prepare();
      await first.close();
      const publisher = track(target.publisher());
      await publisher.prepare([topic]);
      return { topic, group, publisher };
    }

    it('hands out every published event with its attributes, its data bytes and a position', async () => {
      const { topic, group, publisher } = await setUp();
      const batch = Array.from({ length: 40 }, (_, i) => outgoing(topic, `key-${i % 4}`, i));
      await publisher.publish(batch);
      const subscriber = track(target.subscriber({ topics: [topic], group }));
      await subscriber.prepare();
      const { events } = await collect(subscriber, batch.length);
      expect(events.map((e) => e.attributes.id).sort()).toEqual(batch.map((e) => e.event.id).sort());
      const byId = new Map(events.map((e) => [e.attributes.id, e]));
      for (const sent of batch) {
        const got = byId.get(sent.event.id)!;
        expect(got.data).toBe(sent.data);
        expect(got.topic).toBe(topic);
        expect(got.position).not.toBe('');
        expect(got.attributes).toMatchObject({
          type: sent.event.type,
          source: sent.event.source,
          time: sent.event.time,
          subject: sent.event.subject,
          dataschema: sent.event.dataschema,
          partitionkey: sent.event.partitionkey,
        });
      }
      for (let k = 0; k < 4; k++) {
        const seqs = events.filter((e) => e.attributes.partitionkey === `key-${k}`).map((e) => (JSON.parse(e.data) as { seq: number }).seq);
        expect(seqs, `order of key-${k}`).toEqual(seqs.slice().sort((a, b) => a - b));
      }
    });

    it('hands out an unacknowledged batch again to the next subscriber of the group', async () => {
      const { topic, group, publisher } = await setUp();
      const batch = Array.from({ length: 10 }, (_, i) => outgoing(topic, 'redeliver', i));
      await publisher.publish(batch);
      const first = track(target.subscriber({ topics: [topic], group }));
      await first.prepare();
      const seen = await collect(first, batch.length, { ack: false });
      expect(seen.events.length).toBeGreaterThanOrEqual(batch.length);
      await first.close();
      const second = track(target.subscriber({ topics: [topic], group }));
      await second.prepare();
      const again = await collect(second, batch.length, { timeoutMs: 30_000 });
      expect(new Set(again.events.map((e) => e.attributes.id))).toEqual(new Set(batch.map((e) => e.event.id)));
    });

    it('does not hand out an acknowledged batch again', async () => {
      const { topic, group, publisher } = await setUp();
      const early = Array.from({ length: 10 }, (_, i) => outgoing(topic, 'acked', i));
      await publisher.publish(early);
      const first = track(target.subscriber({ topics: [topic], group }));
      await first.prepare();
      expect((await collect(first, early.length)).events.length).toBeGreaterThanOrEqual(early.length);
      await first.close();
      const late = [outgoing(topic, 'acked', 100)];
      await publisher.publish(late);
      const second = track(target.subscriber({ topics: [topic], group }));
      await second.prepare();
      const { events } = await collect(second, 1);
      expect(events.map((e) => e.attributes.id)).toEqual([late[0]!.event.id]);
    });

    it('keeps batches within maxBatch', async () => {
      const { topic, group, publisher } = await setUp();
      await publisher.publish(Array.from({ length: 25 }, (_, i) => outgoing(topic, `k${i % 5}`, i)));
      const subscriber = track(target.subscriber({ topics: [topic], group, maxBatch: 7 }));
      await subscriber.prepare();
      const { events, sizes } = await collect(subscriber, 25);
      expect(events.length).toBeGreaterThanOrEqual(25);
      expect(Math.max(...sizes)).toBeLessThanOrEqual(7);
    });

    if (target.subscriptionsMustExist) {
      it('refuses a missing subscription unless allowed to create it, naming it', async () => {
        const topic = await target.topic();
        const group = uniqueName('missing');
        const subscriber = track(target.subscriber({ topics: [topic], group }));
        await expect(subscriber.prepare()).rejects.toMatchObject({ code: 'TOPIC_NOT_FOUND', message: expect.stringContaining(group) });
      });
    }

    it('reports an unreachable server as BROKER_UNAVAILABLE, retryable', async () => {
      const subscriber = track(target.unreachableSubscriber({ topics: ['nowhere'], group: 'nobody' }));
      await expect(subscriber.prepare()).rejects.toMatchObject({ code: 'BROKER_UNAVAILABLE', retryable: true });
    });

    it('ends the iteration on close, and closes idempotently', async () => {
      const { topic, group } = await setUp();
      const subscriber = track(target.subscriber({ topics: [topic], group }));
      await subscriber.prepare();
      const iteration = collect(subscriber, 1, { timeoutMs: 20_000 });
      await new Promise((r) => setTimeout(r, 300));
      const started = Date.now();
      await subscriber.close();
      await subscriber.close();
      expect((await iteration).events).toEqual([]);
      expect(Date.now() - started).toBeLessThan(5_000);
    });
  });
}
