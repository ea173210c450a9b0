import { describe, expect, it } from 'vitest';
import { backoffMs } from '../../src/relay/backoff.js';

describe('backoffMs', () => {
  const opts = { baseMs: 100, maxMs: 5000 };
  it('doubles per attempt, between half and all of the exponential delay', () => {
    expect(backoffMs(1, opts, () => 0)).toBe(50);
    expect(backoffMs(1, opts, () => 1)).toBe(100);
    expect(backoffMs(4, opts, () => 0)).toBe(400);
    expect(backoffMs(4, opts, () => 1)).toBe(800);
  });
  it('never exceeds the maximum', () => {
    expect(backoffMs(30, opts, () => 1)).toBe(5000);
  });
  it('spreads retries with jitter', () => {
    const seen = new Set(Array.from({ length: 20 }, () => backoffMs(5, opts)));
    expect(seen.size).toBeGreaterThan(5);
  });
});
