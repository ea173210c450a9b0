import { describe, expect, it } from 'vitest';
import type { Publisher } from '../../src/brokers/publisher.js';
import { ErrorCodes, HeraldError } from '../../src/errors.js';
import { PublishFence } from '../../src/relay/fencing.js';
import type { LeaseFencing, RelayRecord, RelaySource } from '../../src/relay/source.js';

/** A source and a publisher that log, in order, what the fence asked of them. */
function fakes(options: { fencing?: LeaseFencing; fresh?: boolean; canFence?: boolean; lostInDb?: boolean } = {}) {
  const calls: string[] = [];
  const source = {
    checkLease: () => void calls.push('checkLease'),
    fencing: () => options.fencing ?? { identity: 'me', previous: [] },
    fenced: async (p: readonly string[]) => void calls.push(`fenced ${p.join()}`),
    confirmLease: async () => {
      calls.push('confirmLease');
      if (options.lostInDb) throw new HeraldError(ErrorCodes.LEASE_LOST, 'moved', { retryable: true });
    },
  } as unknown as RelaySource;
  const publisher = {
    name: 'fake',
    ...(options.canFence === false
      ? {}
      : {
          fence: async (f: LeaseFencing) => {
            calls.push(`fence ${f.identity} [${f.previous.join()}]`);
            return options.fresh ?? false;
          },
        }),
  } as unknown as Publisher;
  return { fence: new PublishFence(source, publisher), calls };
}

const records: RelayRecord[] = [];

describe('PublishFence', () => {
  it('fences stale owners, records them fenced, confirms a new producer session with the database, then checks the clock', async () => {
    const { fence, calls } = fakes({ fencing: { identity: 'me', previous: ['old'] }, fresh: true });
    await fence.beforePublish(records);
    expect(calls).toEqual(['fence me [old]', 'fenced old', 'confirmLease', 'checkLease']);
  });

  it('asks the database nothing while the producer session goes on', async () => {
    const { fence, calls } = fakes({ fresh: false });
    await fence.beforePublish(records);
    expect(calls).toEqual(['fence me []', 'checkLease']);
  });

  it('publishes nothing when the database says the lease moved on', async () => {
    const { fence, calls } = fakes({ fresh: true, lostInDb: true });
    await expect(fence.beforePublish(records)).rejects.toMatchObject({ code: ErrorCodes.LEASE_LOST });
    expect(calls).not.toContain('checkLease');
  });

  it('clears stale owners with a publisher that cannot fence, and still checks the clock', async () => {
    const { fence, calls } = fakes({ fencing: { identity: 'me', previous: ['old'] }, canFence: false });
    await fence.beforePublish(records);
    expect(calls).toEqual(['fenced old', 'checkLease']);
  });
});

describe('Relay, when recording a batch meets a lost lease', () => {
  it('counts as delivered the events the source recorded anyway, and only those', async () => {
    const { Relay } = await import('../../src/relay/relay.js');
    const { leaseLost } = await import('../../src/relay/lease-book.js');
    const batch = Array.from({ length: 4 }, (_, i) => ({
      position: String(i),
      attempts: 0,
      lease: { bucket: i, epoch: '1' },
      outgoing: { topic: 't', data: '{}', event: { id: `e${i}`, partitionkey: `k${i}` } },
    })) as unknown as RelayRecord[];
    let handedOut = false;
    const source = {
      name: 'fake',
      start: async () => undefined,
      next: async () => (handedOut ? [] : ((handedOut = true), batch)),
      waitForWork: async (ms: number) => new Promise((r) => setTimeout(r, Math.min(ms, 10))),
      // Buckets 0-2 are still held, bucket 3 moved on: three deleted, then LEASE_LOST.
      delivered: async () => {
        throw leaseLost('cannot mark 1 of 4 event(s) delivered', 3);
      },
      retryLater: async () => undefined,
      deadLetter: async () => undefined,
      close: async () => undefined,
    } as unknown as RelaySource;
    const publisher = {
      name: 'fake',
      prepare: async () => undefined,
      publish: async () => undefined,
      close: async () => undefined,
    } as unknown as Publisher;
    const relay = new Relay({ source, publisher, pollIntervalMs: 10 });
    const running = relay.run();
    while (relay.stats.leaseLost === 0) await new Promise((r) => setTimeout(r, 5));
    await relay.stop();
    await running;
    expect(relay.stats).toMatchObject({ delivered: 3, leaseLost: 1 });
  });
});
