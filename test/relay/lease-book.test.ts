import { describe, expect, it } from 'vitest';
import { ErrorCodes, isHeraldError } from '../../src/errors.js';
import { LeaseBook } from '../../src/relay/lease-book.js';
import type { RelayRecord } from '../../src/relay/source.js';

/** A lease book on a clock the test moves by hand. */
function book(leaseMs = 3000) {
  let now = 1000;
  const leases = new LeaseBook(
    leaseMs,
    (owner) => `herald-t-${owner}`,
    () => now,
  );
  return { leases, advance: (ms: number) => (now += ms) };
}

function record(bucket: number, epoch: string): RelayRecord {
  return {
    position: '1',
    attempts: 0,
    lease: { bucket, epoch },
    outgoing: { topic: 't', data: '{}', event: {} as RelayRecord['outgoing']['event'] },
  };
}

const lost = (fn: () => void): boolean => {
  try {
    fn();
    return false;
  } catch (err) {
    return isHeraldError(err, ErrorCodes.LEASE_LOST) && err.retryable;
  }
};

describe('LeaseBook', () => {
  it('lets a record through while its bucket is held with the epoch it was read under', () => {
    const { leases } = book();
    leases.renewed([{ bucket: 2, epoch: '7', staleOwners: [] }], leases.askedAt());
    expect(leases.token(2)).toEqual({ bucket: 2, epoch: '7' });
    expect(() => leases.check([record(2, '7')])).not.toThrow();
  });

  it('refuses a record of a bucket held under another epoch, or not held at all', () => {
    const { leases } = book();
    leases.renewed([{ bucket: 2, epoch: '8', staleOwners: [] }], leases.askedAt());
    expect(lost(() => leases.check([record(2, '7')]))).toBe(true);
    expect(lost(() => leases.check([record(3, '8')]))).toBe(true);
  });

  it('refuses once the lease ran out by the local clock, counted from when the claim was sent', () => {
    const { leases, advance } = book(3000);
    const askedAt = leases.askedAt();
    advance(500); // the claim's round trip
    leases.renewed([{ bucket: 0, epoch: '1', staleOwners: [] }], askedAt);
    advance(2499);
    expect(() => leases.check([record(0, '1')])).not.toThrow();
    advance(1);
    expect(lost(() => leases.check([record(0, '1')]))).toBe(true);
    expect(leases.heldCount).toBe(0);
  });

  it('starts no batch with half the lease or less left, and renews after a third', () => {
    const { leases, advance } = book(3000);
    leases.renewed([{ bucket: 0, epoch: '1', staleOwners: [] }], leases.askedAt());
    expect(leases.renewDue).toBe(false);
    expect(leases.roomForBatch).toBe(true);
    advance(1001);
    expect(leases.renewDue).toBe(true);
    advance(500);
    expect(leases.roomForBatch).toBe(false);
  });

  it('forgets every lease when told it lost one, so that the next read claims afresh', () => {
    const { leases } = book();
    leases.renewed([{ bucket: 0, epoch: '1', staleOwners: [] }], leases.askedAt());
    leases.lost();
    expect(leases.buckets).toEqual([]);
    expect(leases.renewDue).toBe(true);
    expect(lost(() => leases.check([record(0, '1')]))).toBe(true);
  });

  it('reports the stale owners of the buckets it holds as identities to fence, once each, until fenced', () => {
    const { leases } = book();
    leases.renewed(
      [
        { bucket: 0, epoch: '2', staleOwners: ['a'] },
        { bucket: 1, epoch: '2', staleOwners: ['a', 'b'] },
      ],
      leases.askedAt(),
    );
    expect(leases.fencing('me')).toEqual({ identity: 'herald-t-me', previous: ['herald-t-a', 'herald-t-b'] });
    expect(leases.fenced(['herald-t-a'])).toEqual(['a']);
    expect(leases.fencing('me').previous).toEqual(['herald-t-b']);
  });
});
