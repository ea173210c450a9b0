import { describe, expect, it } from 'vitest';
import { ErrorCodes, isHeraldError } from '../../src/errors.js';
import { Relay } from '../../src/relay/relay.js';
import { InMemoryOutbox, RecordingPublisher } from '../../src/testing/index.js';
import { orderContracts, orderPlaced } from '../support/contracts.js';

const TOPIC = 'orders.order-placed.v1';
const CONTRACT = 'orders.order-placed';
const outbox = (): InMemoryOutbox => new InMemoryOutbox({ contracts: orderContracts(TOPIC), source: '/orders-service' });
const seqs = (p: RecordingPublisher, key: string): string[] =>
  p.eventsOf(TOPIC, key).map((e) => (e.data as { lines: { sku: string }[] }).lines[0]!.sku);

async function errorOf(p: Promise<unknown> | (() => unknown)): Promise<Error> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

describe('InMemoryOutbox (herald/testing)', () => {
  it('keeps events only when their transaction commits', async () => {
    const o = outbox();
    const kept = await o.transaction((tx) => o.append(tx, CONTRACT, orderPlaced('c-1')));
    await expect(
      o.transaction(async (tx) => {
        await o.append(tx, CONTRACT, orderPlaced('c-2'));
        throw new Error('business rule failed');
      }),
    ).rejects.toThrow('business rule failed');
    const tx = o.begin();
    await o.append(tx, CONTRACT, orderPlaced('c-3'));
    tx.rollback();
    expect(o.pending.map((e) => e.id)).toEqual([kept.id]);
    expect(kept).toMatchObject({ source: '/orders-service', type: 'orders.order-placed', partitionkey: 'c-1' });
  });

  it('validates the whole batch against its contract before keeping anything', async () => {
    const o = outbox();
    const err = await errorOf(
      o.transaction((tx) =>
        o.appendMany(tx, [
          { contract: CONTRACT, data: orderPlaced('ok') },
          { contract: CONTRACT, data: { ...orderPlaced('bad'), total: 'ten' } },
        ]),
      ),
    );
    expect(isHeraldError(err, ErrorCodes.EVENT_INVALID)).toBe(true);
    const unknown = await errorOf(o.transaction((tx) => o.append(tx, 'orders.nope', {})));
    expect(isHeraldError(unknown, ErrorCodes.CONTRACT_NOT_FOUND)).toBe(true);
    expect(o.pending).toEqual([]);
  });

  it('refuses a handle that is not an open transaction of this outbox, saying what to pass', async () => {
    const o = outbox();
    for (const handle of [undefined, {}, outbox().begin()]) {
      const err = await errorOf(o.append(handle, CONTRACT, orderPlaced('k')));
      expect(isHeraldError(err, ErrorCodes.TRANSACTION_REQUIRED)).toBe(true);
      expect(err.message).toContain('outbox.transaction(async (tx) => ...)');
    }
    const tx = o.begin();
    tx.commit();
    expect(isHeraldError(await errorOf(o.append(tx, CONTRACT, orderPlaced('k'))), ErrorCodes.TRANSACTION_REQUIRED)).toBe(true);
    expect(isHeraldError(await errorOf(() => tx.commit()), ErrorCodes.TRANSACTION_REQUIRED)).toBe(true);
    expect(o.pending).toEqual([]);
  });

  it('hands events out in commit order, not append order', async () => {
    const o = outbox();
    const first = o.begin();
    const second = o.begin();
    const early = await o.append(first, CONTRACT, orderPlaced('k', 0));
    const late = await o.append(second, CONTRACT, orderPlaced('k', 1));
    second.commit();
    first.commit();
    const p = new RecordingPublisher();
    await o.drain(p);
    expect(p.eventsOf(TOPIC, 'k').map((e) => e.id)).toEqual([late.id, early.id]);
  });

  it('drains through the real relay, holding back a key while its event waits for a retry', async () => {
    const o = outbox();
    await o.transaction(async (tx) => {
      for (let seq = 0; seq < 3; seq++) for (const key of ['a', 'b']) await o.append(tx, CONTRACT, orderPlaced(key, seq));
    });
    const p = new RecordingPublisher().failWhen((r) => r.event.partitionkey === 'a', 'refused');
    const relay = new Relay({ source: o.source(), publisher: p, pollIntervalMs: 5, retryBaseMs: 50, retryMaxMs: 50 });
    const running = relay.run();
    while (p.published.length < 3) await new Promise((r) => setTimeout(r, 5));
    // b flowed; a was refused and nothing after its head went out.
    expect(seqs(p, 'b')).toEqual(['seq-0', 'seq-1', 'seq-2']);
    expect(seqs(p, 'a')).toEqual([]);
    p.heal();
    while (p.published.length < 6) await new Promise((r) => setTimeout(r, 5));
    await relay.stop();
    await running;
    expect(seqs(p, 'a')).toEqual(['seq-0', 'seq-1', 'seq-2']);
    expect(relay.stats.retried).toBeGreaterThan(0);
    expect(o.pending).toEqual([]);
  });

  it('dead-letters a rejected event with its error and delivers the rest', async () => {
    const o = outbox();
    const events = await o.transaction((tx) =>
      o.appendMany(tx, [
        { contract: CONTRACT, data: orderPlaced('poison') },
        { contract: CONTRACT, data: orderPlaced('fine') },
      ]),
    );
    const p = new RecordingPublisher().failWhen((r) => r.event.id === events[0]!.id, 'rejected');
    const stats = await o.drain(p);
    expect(stats).toMatchObject({ delivered: 1, deadLettered: 1 });
    expect(o.deadLetters).toMatchObject([{ event: { id: events[0]!.id }, topic: TOPIC, attempts: 1 }]);
    expect(o.deadLetters[0]!.lastError).toContain('rejected (injected)');
    expect(p.published.map((r) => r.event.id)).toEqual([events[1]!.id]);
  });

  it('rides out an unavailable broker, and says so when it never comes back', async () => {
    const o = outbox();
    const e = await o.transaction((tx) => o.append(tx, CONTRACT, orderPlaced('k')));
    const p = new RecordingPublisher().failNext('unavailable', 3);
    const stats = await o.drain(p);
    expect(stats.brokerOutages).toBe(3);
    expect(p.calls).toBe(4);
    expect(p.published.map((r) => r.event)).toEqual([e]);

    await o.transaction((tx) => o.append(tx, CONTRACT, orderPlaced('k')));
    const down = new RecordingPublisher().failNext('unavailable', Number.MAX_SAFE_INTEGER);
    const err = await errorOf(o.drain(down, { timeoutMs: 100 }));
    expect(err.message).toMatch(/1 event\(s\) still pending after 100 ms/);
    expect(o.pending).toHaveLength(1);
  });
});

describe('RecordingPublisher (herald/testing)', () => {
  it('refuses unknown topics when given its topics, and any use after close', async () => {
    const p = new RecordingPublisher({ topics: [TOPIC] });
    await p.prepare([TOPIC]);
    expect(isHeraldError(await errorOf(p.prepare(['other'])), ErrorCodes.TOPIC_NOT_FOUND)).toBe(true);
    await p.close();
    expect(isHeraldError(await errorOf(p.publish([])), ErrorCodes.CLOSED)).toBe(true);
  });

  it('injects failures shaped like the real adapters', async () => {
    const p = new RecordingPublisher();
    for (const [kind, code, retryable] of [
      ['unavailable', ErrorCodes.BROKER_UNAVAILABLE, true],
      ['refused', ErrorCodes.PUBLISH_FAILED, true],
      ['rejected', ErrorCodes.PUBLISH_REJECTED, false],
    ] as const) {
      const err = await errorOf(p.failNext(kind).publish([]));
      expect(isHeraldError(err, code)).toBe(true);
      expect(isHeraldError(err) && err.retryable).toBe(retryable);
    }
    await p.publish([]);
    expect(p.calls).toBe(4);
  });
});
