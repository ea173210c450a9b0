import { describe, expect, it } from 'vitest';
import { fairShare } from '../../src/relay/fair-share.js';

describe('fairShare', () => {
  it('gives every bucket to exactly one live relay, the same split whichever relay computes it', () => {
    const live = ['c-relay', 'a-relay', 'b-relay'];
    const shares = live.map((self) => fairShare(live, self, 8));
    expect(shares.map((s) => s.relays)).toEqual([3, 3, 3]);
    expect(shares.flatMap((s) => s.mine).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(fairShare(live, 'a-relay', 8).mine).toEqual([0, 3, 6]);
  });

  it('counts the relay itself when the live list does not have it yet', () => {
    expect(fairShare([], 'only', 4)).toEqual({ relays: 1, mine: [0, 1, 2, 3] });
    expect(fairShare(['b'], 'a', 4)).toEqual({ relays: 2, mine: [0, 2] });
  });
});
