import { describe, expect, it } from 'vitest';
import { check, type CommittedEvent, type DeliveredEvent } from '../../chaos/checker.js';
import { judge } from '../../chaos/verdict.js';

const c = (id: string, key: string, seq: number, committedAtMs = 0): CommittedEvent => ({ id, key, seq, committedAtMs });
let offset = 0;
const d = (id: string, key: string, seq: number, visibleAtMs = 0, partition = 0): DeliveredEvent => ({
  id,
  key,
  seq,
  partition,
  offset: offset++,
  visibleAtMs,
});

describe('the chaos checker', () => {
  it('finds nothing wrong when every committed event came once, in order', () => {
    const r = check({ committed: [c('a', 'k', 0), c('b', 'k', 1)], rolledBack: [], delivered: [d('a', 'k', 0), d('b', 'k', 1)] });
    expect(r).toMatchObject({ lost: [], rolledBackDelivered: [], duplicates: 0, reorders: [], unknown: 0, messages: 2 });
  });

  it('reports a committed event that never arrived as lost', () => {
    const r = check({ committed: [c('a', 'k', 0), c('b', 'k', 1)], rolledBack: [], delivered: [d('a', 'k', 0)] });
    expect(r.lost).toEqual(['b']);
    expect(judge(r, { duplicates: 'any reason', reorders: 'any reason' }).verdict).toBe('fail');
  });

  it('reports a delivered rolled-back event, whatever the allowances', () => {
    const r = check({ committed: [c('a', 'k', 0)], rolledBack: ['x'], delivered: [d('a', 'k', 0), d('x', 'k', 1)] });
    expect(r.rolledBackDelivered).toEqual(['x']);
    expect(r.unknown).toBe(0);
    expect(judge(r, { duplicates: 'crash' }).reason).toContain('rolled-back');
  });

  it('counts every message after the first of its id as a duplicate', () => {
    const r = check({
      committed: [c('a', 'k', 0), c('b', 'k', 1)],
      rolledBack: [],
      delivered: [d('a', 'k', 0), d('b', 'k', 1), d('a', 'k', 0), d('b', 'k', 1), d('b', 'k', 1)],
    });
    expect(r.duplicates).toBe(3);
    expect(r.duplicatedIds).toBe(2);
    // A redelivered older event is a duplicate, not a reorder: only first deliveries are judged.
    expect(r.reorders).toEqual([]);
  });

  it('reports a first delivery that came after a later event of the same key as a reorder', () => {
    const r = check({
      committed: [c('a', 'k', 0), c('b', 'k', 1), c('z', 'other', 0)],
      rolledBack: [],
      delivered: [d('b', 'k', 1), d('z', 'other', 0), d('a', 'k', 0)],
    });
    expect(r.reorders).toEqual([{ key: 'k', id: 'a', seq: 0, afterSeq: 1 }]);
    expect(judge(r, {}).verdict).toBe('fail');
    expect(judge(r, { reorders: 'stale relay' })).toEqual({ verdict: 'allowed', reason: 'reorders: stale relay' });
  });

  it('judges order per key, so interleaved keys are not reorders', () => {
    const r = check({
      committed: [c('a0', 'a', 0), c('b0', 'b', 0), c('a1', 'a', 1), c('b1', 'b', 1)],
      rolledBack: [],
      delivered: [d('b0', 'b', 0, 0, 1), d('a0', 'a', 0, 0, 0), d('b1', 'b', 1, 0, 1), d('a1', 'a', 1, 0, 0)],
    });
    expect(r.reorders).toEqual([]);
  });

  it('takes the seq from what the writer committed, not from the payload', () => {
    // The payload says 5, the writer committed it as seq 0: delivered first, it is in order.
    const r = check({ committed: [c('a', 'k', 0), c('b', 'k', 1)], rolledBack: [], delivered: [d('a', 'k', 5), d('b', 'k', 1)] });
    expect(r.reorders).toEqual([]);
  });

  it('never counts an event with an unanswered COMMIT as lost, unknown or wrong', () => {
    const missing = check({ committed: [c('a', 'k', 0)], rolledBack: [], uncertain: ['u'], delivered: [d('a', 'k', 0)] });
    expect(missing).toMatchObject({ lost: [], unknown: 0, uncertain: 1 });
    const present = check({ committed: [c('a', 'k', 0)], rolledBack: [], uncertain: ['u'], delivered: [d('a', 'k', 0), d('u', 'k', 1)] });
    expect(present).toMatchObject({ lost: [], unknown: 0, rolledBackDelivered: [] });
  });

  it('counts a message that no writer recorded as unknown, and fails the row', () => {
    const r = check({ committed: [], rolledBack: [], delivered: [d('ghost', 'k', 0)] });
    expect(r.unknown).toBe(1);
    expect(judge(r, {}).verdict).toBe('fail');
  });

  it('measures recovery from the end of the fault to the last committed event first visible', () => {
    const r = check({
      committed: [c('a', 'k', 0), c('b', 'k', 1)],
      rolledBack: [],
      // b came twice; its first delivery (at 1500) counts, not the duplicate at 9000.
      delivered: [d('a', 'k', 0, 900), d('b', 'k', 1, 1_500), d('b', 'k', 1, 9_000)],
      faultEndedAtMs: 1_000,
    });
    expect(r.recoveryMs).toBe(500);
  });

  it('gives a recovery of 0 when everything was visible before the fault ended', () => {
    const r = check({ committed: [c('a', 'k', 0)], rolledBack: [], delivered: [d('a', 'k', 0, 100)], faultEndedAtMs: 1_000 });
    expect(r.recoveryMs).toBe(0);
  });

  it('gives no recovery time when something was lost or there was no fault end', () => {
    expect(check({ committed: [c('a', 'k', 0)], rolledBack: [], delivered: [], faultEndedAtMs: 1 }).recoveryMs).toBeUndefined();
    expect(check({ committed: [c('a', 'k', 0)], rolledBack: [], delivered: [d('a', 'k', 0)] }).recoveryMs).toBeUndefined();
  });

  it('counts a duplicate that came after a later event of its key as late', () => {
    const r = check({
      committed: [c('a', 'k', 0), c('b', 'k', 1)],
      rolledBack: [],
      // a again right after a is harmless; a again after b sends the key back in time.
      delivered: [d('a', 'k', 0), d('a', 'k', 0), d('b', 'k', 1), d('a', 'k', 0)],
    });
    expect(r.duplicates).toBe(2);
    expect(r.lateDuplicates).toBe(1);
    expect(r.reorders).toEqual([]);
  });

  it('reports the longest wait from commit to first visibility', () => {
    const r = check({
      committed: [c('a', 'k', 0, 100), c('b', 'k', 1, 200)],
      rolledBack: [],
      delivered: [d('a', 'k', 0, 150), d('b', 'k', 1, 1_200), d('b', 'k', 1, 5_000)],
    });
    expect(r.maxDelayMs).toBe(1_000);
  });

  it('passes a clean run and names the reason of an allowed duplicate', () => {
    const clean = check({ committed: [c('a', 'k', 0)], rolledBack: [], delivered: [d('a', 'k', 0)] });
    expect(judge(clean, {})).toEqual({ verdict: 'pass', reason: '' });
    const dup = check({ committed: [c('a', 'k', 0)], rolledBack: [], delivered: [d('a', 'k', 0), d('a', 'k', 0)] });
    expect(judge(dup, {}).verdict).toBe('fail');
    expect(judge(dup, { duplicates: 'crash after ack' })).toEqual({ verdict: 'allowed', reason: 'duplicates: crash after ack' });
  });
});
