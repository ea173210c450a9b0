import { describe, expect, it } from 'vitest';
import { deliveredOf, reportDelivered, type OutgoingEvent, type Publisher } from '../../src/brokers/publisher.js';
import { ErrorCodes, HeraldError } from '../../src/errors.js';
import { InMemoryOutbox } from '../../src/testing/index.js';
import { orderContracts, orderPlaced } from '../support/contracts.js';

const TOPIC = 'orders.order-placed.v1';
const CONTRACT = 'orders.order-placed';

/**
 * A broker with two "partitions" (by the key's first letter), each storing or refusing its part of
 * a batch on its own, and reporting what it stored, as Kafka's per-partition answers allow.
 */
class PartitionedBroker implements Publisher {
  readonly name = 'partitioned';
  readonly stored: { id: string; key: string; seq: string }[] = [];
  readonly calls: number[] = [];

  constructor(
    readonly refuses: (e: OutgoingEvent) => HeraldError | undefined,
    readonly code: () => string = () => ErrorCodes.PUBLISH_REJECTED,
  ) {}

  async prepare(): Promise<void> {}
  async close(): Promise<void> {}

  async publish(batch: readonly OutgoingEvent[]): Promise<void> {
    this.calls.push(batch.length);
    const partitions = new Map<string, number[]>();
    batch.forEach((e, i) => {
      const p = e.event.partitionkey.slice(0, 1);
      partitions.set(p, [...(partitions.get(p) ?? []), i]);
    });
    const delivered: number[] = [];
    let refusal: HeraldError | undefined;
    for (const indices of partitions.values()) {
      const refused = indices.map((i) => this.refuses(batch[i]!)).find((r) => r !== undefined);
      if (refused) {
        refusal ??= refused;
        continue;
      }
      for (const i of indices) {
        const e = batch[i]!;
        this.stored.push({
          id: e.event.id,
          key: e.event.partitionkey,
          seq: (JSON.parse(e.data) as { lines: { sku: string }[] }).lines[0]!.sku,
        });
      }
      delivered.push(...indices);
    }
    if (refusal) throw reportDelivered(refusal, delivered);
  }

  seqs(key: string): string[] {
    return this.stored.filter((s) => s.key === key).map((s) => s.seq);
  }
}

async function write(o: InMemoryOutbox, events: [key: string, seq: number, extra?: Record<string, unknown>][]): Promise<string[]> {
  const written = await o.transaction((tx) =>
    o.appendMany(
      tx,
      events.map(([key, seq, extra]) => ({ contract: CONTRACT, data: orderPlaced(key, seq, extra) })),
    ),
  );
  return written.map((e) => e.id);
}

describe('relay: a batch the broker refused in part', () => {
  it('records what the broker stored, sends only the rest in halves down to the refused event, and never sends an event twice', async () => {
    const o = new InMemoryOutbox({ contracts: orderContracts(TOPIC), source: '/orders-service' });
    const ids = await write(o, [
      ['a-poison', 0],
      ['a-poison', 1, { total: 999 }],
      ['a-poison', 2],
      ['a-other', 0],
      ['b-one', 0],
      ['b-two', 0],
      ['b-one', 1],
    ]);
    const poison = ids[1]!;
    const broker = new PartitionedBroker((e) =>
      e.event.id === poison ? new HeraldError(ErrorCodes.PUBLISH_REJECTED, 'record too large (test)') : undefined,
    );
    const stats = await o.drain(broker);

    expect(broker.stored.map((s) => s.id).sort()).toEqual(ids.filter((id) => id !== poison).sort());
    expect(o.deadLetters.map((d) => d.event.id)).toEqual([poison]);
    expect(broker.seqs('a-poison')).toEqual(['seq-0', 'seq-2']);
    expect(broker.seqs('b-one')).toEqual(['seq-0', 'seq-1']);
    // Partition "b" was stored by the batch; only partition "a" (p0 p1 p2 other, just refused,
    // so not sent again whole) was taken apart, in halves: [p0 p1] refused, [p0] stored, [p1]
    // refused (its key held: p2 waits), [other] stored; p2 goes in the next batch.
    expect(broker.calls.slice(0, 6)).toEqual([7, 2, 1, 1, 1, 1]);
    expect(stats).toMatchObject({ delivered: 6, deadLettered: 1, refused: 1 });
  });

  it('holds back the later events of a refused key until the refused one is resolved', async () => {
    const o = new InMemoryOutbox({ contracts: orderContracts(TOPIC), source: '/orders-service' });
    const ids = await write(o, [
      ['a-flaky', 0],
      ['a-flaky', 1],
      ['b-steady', 0],
    ]);
    // Refused as the batch, as the half [a0 a1], and alone: then it waits for a retry.
    let refusals = 3;
    const broker = new PartitionedBroker((e) =>
      e.event.id === ids[0] && refusals-- > 0
        ? new HeraldError(ErrorCodes.PUBLISH_FAILED, 'not enough replicas (test)', { retryable: true })
        : undefined,
    );
    const stats = await o.drain(broker);

    expect(broker.stored.map((s) => s.id)).toEqual([ids[2], ids[0], ids[1]]);
    expect(broker.seqs('a-flaky')).toEqual(['seq-0', 'seq-1']);
    expect(stats).toMatchObject({ delivered: 3, retried: 1, refused: 1, deadLettered: 0 });
  });

  it('records the stored part of a batch that ended with the broker unreachable, then resends only the rest', async () => {
    const o = new InMemoryOutbox({ contracts: orderContracts(TOPIC), source: '/orders-service' });
    const ids = await write(o, [
      ['a-one', 0],
      ['b-one', 0],
      ['a-one', 1],
    ]);
    let down = true;
    const broker = new PartitionedBroker((e) => {
      if (!down || !e.event.partitionkey.startsWith('a')) return undefined;
      down = false;
      return new HeraldError(ErrorCodes.BROKER_UNAVAILABLE, 'partition leader unreachable (test)', { retryable: true });
    });
    const stats = await o.drain(broker);

    expect(broker.stored.map((s) => s.id)).toEqual([ids[1], ids[0], ids[2]]);
    expect(broker.calls).toEqual([3, 2]);
    expect(stats).toMatchObject({ delivered: 3, brokerOutages: 1, refused: 0 });
  });
});

describe('reportDelivered / deliveredOf', () => {
  it('carries the stored indices on a copy of the error, keeping its code, message, retryable flag and cause', () => {
    const cause = new Error('inner');
    const err = new HeraldError(ErrorCodes.PUBLISH_FAILED, 'cannot publish 4 event(s)', {
      retryable: true,
      cause,
      details: { topic: 't' },
    });
    const reported = reportDelivered(err, [3, 0, 3]);
    expect(reported).toMatchObject({ code: ErrorCodes.PUBLISH_FAILED, message: err.message, retryable: true, cause });
    expect(reported.details).toEqual({ topic: 't', delivered: [0, 3] });
    expect(deliveredOf(reported, 4)).toEqual([0, 3]);
    expect(deliveredOf(reported, 2)).toEqual([0]);
    expect(reportDelivered(err, [])).toBe(err);
    expect(deliveredOf(err, 4)).toEqual([]);
    expect(deliveredOf(new Error('plain'), 4)).toEqual([]);
  });
});
