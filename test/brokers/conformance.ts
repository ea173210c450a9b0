import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { OutgoingEvent, Publisher } from '../../src/brokers/publisher.js';
import { isHeraldError } from '../../src/errors.js';

/** A message as the broker holds it, read back with the broker's own client (not Herald's). */
export interface ReceivedMessage {
  /** The CloudEvents id as the message carries it (header, attribute or property). */
  readonly id: string;
  /** The message body, exactly as the broker stored it. */
  readonly data: string;
  /** CloudEvents attributes by their CloudEvents name (`id`, `source`, `type`, `partitionkey`, ...). */
  readonly attributes: Readonly<Record<string, string>>;
  /** The value the broker deduplicates on (Kafka: none, `Nats-Msg-Id`, AMQP `message-id`, ...). */
  readonly dedupId?: string;
  /** The ordering key the broker used (Kafka key, Pub/Sub ordering key, SNS message group), if any. */
  readonly orderingKey?: string;
}

/** One broker under test: how to make publishers, destinations, and read back what arrived. */
export interface ConformanceTarget {
  readonly name: string;
  /** A publisher connected to the real server. */
  publisher(): Publisher;
  /** A publisher pointed at an address where no server listens. */
  unreachablePublisher(): Publisher;
  /** A fresh destination that exists (created with the broker's own client) and is read from the start. */
  topic(): Promise<string>;
  /**
   * Everything that arrived on `topic` in arrival order, read with the broker's own client. Called
   * after `publish` resolved; waits at most a short while (or `timeoutMs`, for large workloads)
   * for at least `atLeast` messages.
   */
  read(topic: string, atLeast: number, timeoutMs?: number): Promise<ReceivedMessage[]>;
  /** Whether the broker keeps the order of one key's events (all but plain SNS standard topics do). */
  readonly ordersPerKey: boolean;
  /**
   * A publish the broker refuses for good (unknown destination, too large): runs it and returns
   * the rejection. Omit only where the broker cannot refuse anything.
   */
  permanentRejection?(publisher: Publisher): Promise<unknown>;
  /** Restarts the server, if this machine can; the publisher must reconnect by itself. */
  restart?(): Promise<void>;
  /** Deletes what `topic()` created. */
  cleanup?(): Promise<void>;
}

/** An outgoing event with every CloudEvents attribute set, for `topic` and `key`. */
export function outgoing(topic: string, key: string, seq: number): OutgoingEvent {
  return {
    topic,
    // Written by hand: a re-serialising publisher would change 1.0 and the 20-digit number.
    data: `{"key":${JSON.stringify(key)},"seq":${seq},"note":"ünïcödé \\"quoted\\"","big":12345678901234567890,"ratio":1.0}`,
    event: {
      specversion: '1.0',
      id: randomUUID(),
      source: '/conformance',
      type: 'com.example.conformance.tested',
      time: new Date(Date.UTC(2026, 10, 29, 12, 0, seq % 60)).toISOString(),
      datacontenttype: 'application/json',
      partitionkey: key,
      subject: `subject-${seq}`,
      dataschema: 'urn:herald:contract:conformance:1.0.0',
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    },
  };
}

/**
 * The publisher conformance suite (in the spirit of Watermill's universal pub/sub tests): every
 * publisher runs it against its real server, and must pass all of it.
 */
export function publisherConformance(target: ConformanceTarget): void {
  describe(`${target.name} publisher conformance`, () => {
    const open: Publisher[] = [];
    const make = (p: Publisher): Publisher => {
      open.push(p);
      return p;
    };
    afterEach(async () => {
      for (const p of open.splice(0)) await p.close();
      await target.cleanup?.();
    });

    it('delivers a batch, each event once, with its payload bytes unchanged', async () => {
      const topic = await target.topic();
      const publisher = make(target.publisher());
      await publisher.prepare([topic]);
      const batch = Array.from({ length: 50 }, (_, i) => outgoing(topic, `key-${i % 5}`, i));
      await publisher.publish(batch);
      const received = await target.read(topic, batch.length);
      expect(received.map((m) => m.id).sort()).toEqual(batch.map((e) => e.event.id).sort());
      const byId = new Map(received.map((m) => [m.id, m]));
      for (const e of batch) expect(byId.get(e.event.id)!.data).toBe(e.data);
    });

    it('resolves only after a durable acknowledgement: everything is readable once publish resolved', async () => {
      const topic = await target.topic();
      const publisher = make(target.publisher());
      await publisher.prepare([topic]);
      const batch = Array.from({ length: 20 }, (_, i) => outgoing(topic, 'acked', i));
      await publisher.publish(batch);
      // A fresh reader, not a subscription that was already waiting, sees all of them at once.
      expect((await target.read(topic, batch.length)).length).toBeGreaterThanOrEqual(batch.length);
    });

    if (target.ordersPerKey) {
      it('keeps the batch order of each key', async () => {
        const topic = await target.topic();
        const publisher = make(target.publisher());
        await publisher.prepare([topic]);
        const batch = Array.from({ length: 60 }, (_, i) => outgoing(topic, `ordered-${i % 3}`, i));
        await publisher.publish(batch.slice(0, 30));
        await publisher.publish(batch.slice(30));
        const received = await target.read(topic, batch.length);
        for (let k = 0; k < 3; k++) {
          const key = `ordered-${k}`;
          const seqs = received.filter((m) => m.attributes.partitionkey === key).map((m) => (JSON.parse(m.data) as { seq: number }).seq);
          expect(seqs, `order of ${key}`).toEqual(batch.filter((e) => e.event.partitionkey === key).map((_, i) => k + 3 * i));
        }
      });
    }

    it('carries every CloudEvents attribute and the ordering key', async () => {
      const topic = await target.topic();
      const publisher = make(target.publisher());
      await publisher.prepare([topic]);
      const e = outgoing(topic, 'attrs', 7);
      await publisher.publish([e]);
      const [m] = await target.read(topic, 1);
      // datacontenttype may travel as the broker's own content type instead of an attribute.
      const attributes: Record<string, unknown> = { ...e.event };
      delete attributes.datacontenttype;
      expect(m!.attributes).toMatchObject(attributes);
      if (m!.orderingKey !== undefined) expect(m!.orderingKey).toBe('attrs');
    });

    it("maps the event id onto the broker's deduplication id", async () => {
      const topic = await target.topic();
      const publisher = make(target.publisher());
      await publisher.prepare([topic]);
      const e = outgoing(topic, 'dedup', 1);
      await publisher.publish([e]);
      const [m] = await target.read(topic, 1);
      expect(m!.dedupId ?? m!.id).toBe(e.event.id);
    });

    if (target.permanentRejection) {
      it('reports a permanent rejection as not retryable', async () => {
        const publisher = make(target.publisher());
        const err = await target.permanentRejection!(publisher);
        expect(isHeraldError(err), String(err)).toBe(true);
        expect(err).toMatchObject({ retryable: false });
        expect(['PUBLISH_REJECTED', 'TOPIC_NOT_FOUND']).toContain((err as { code: string }).code);
      });
    }

    it('reports an unreachable server as BROKER_UNAVAILABLE, retryable', async () => {
      const publisher = make(target.unreachablePublisher());
      const err = await publisher.publish([outgoing('nowhere', 'k', 0)]).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ code: 'BROKER_UNAVAILABLE', retryable: true });
    });

    it('closes idempotently, and refuses to publish after close', async () => {
      const publisher = target.publisher();
      await publisher.close();
      await publisher.close();
      await expect(publisher.publish([outgoing('closed', 'k', 0)])).rejects.toMatchObject({ code: 'CLOSED' });
    });

    if (target.restart) {
      it('reconnects by itself after the server restarts', async () => {
        const topic = await target.topic();
        const publisher = make(target.publisher());
        await publisher.prepare([topic]);
        const before = outgoing(topic, 'restart', 0);
        await publisher.publish([before]);
        await target.restart!();
        const after = outgoing(topic, 'restart', 1);
        // The first attempt may find the old connection dead (BROKER_UNAVAILABLE); a relay retries.
        for (let attempt = 0; ; attempt++) {
          try {
            await publisher.publish([after]);
            break;
          } catch (err) {
            if (attempt >= 20 || !(isHeraldError(err) && err.retryable)) throw err;
            await new Promise((r) => setTimeout(r, 500));
          }
        }
        const ids = (await target.read(topic, 2)).map((m) => m.id);
        expect(ids).toContain(before.event.id);
        expect(ids).toContain(after.event.id);
      });
    }
  });
}
