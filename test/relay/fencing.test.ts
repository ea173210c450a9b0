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
