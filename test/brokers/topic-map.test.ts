import { describe, expect, it } from 'vitest';
import type { OutgoingEvent, Publisher } from '../../src/brokers/publisher.js';
import { withTopicMap } from '../../src/brokers/topic-map.js';

/** Records what reaches the wrapped publisher. */
function recorder(): Publisher & { prepared: string[]; published: OutgoingEvent[]; closed: number } {
  const r = {
    name: 'recorder',
    prepared: [] as string[],
    published: [] as OutgoingEvent[],
    closed: 0,
    prepare: async (topics: readonly string[]) => void r.prepared.push(...topics),
    publish: async (batch: readonly OutgoingEvent[]) => void r.published.push(...batch),
    close: async () => void r.closed++,
  };
  return r;
}

const outgoing = (topic: string): OutgoingEvent => ({
  topic,
  data: '{}',
  event: {
    specversion: '1.0',
    id: 'id',
    source: '/s',
    type: 't',
    time: '2026-11-29T00:00:00Z',
    datacontenttype: 'application/json',
    partitionkey: 'k',
  },
});

describe('withTopicMap', () => {
  it('renames mapped topics for prepare and publish, and leaves the others alone', async () => {
    const inner = recorder();
    const mapped = withTopicMap(inner, { 'orders.order-placed.v1': 'prod.orders' });
    await mapped.prepare(['orders.order-placed.v1', 'other']);
    await mapped.publish([outgoing('orders.order-placed.v1'), outgoing('other')]);
    await mapped.close();
    expect(inner.prepared).toEqual(['prod.orders', 'other']);
    expect(inner.published.map((e) => e.topic)).toEqual(['prod.orders', 'other']);
    expect(inner.published[0]!.event.id).toBe('id');
    expect(inner.closed).toBe(1);
  });

  it('returns the publisher itself when there is nothing to rename', () => {
    const inner = recorder();
    expect(withTopicMap(inner, {})).toBe(inner);
  });

  it('passes the fencing hook through, so that a Kafka relay with renamed topics is still fenced', async () => {
    const seen: string[] = [];
    const inner: Publisher = { ...recorder(), fence: async (f) => (seen.push(f.identity), true) };
    const mapped = withTopicMap(inner, { a: 'b' });
    expect(await mapped.fence?.({ identity: 'herald-x', previous: [] })).toBe(true);
    expect(seen).toEqual(['herald-x']);
  });
});
