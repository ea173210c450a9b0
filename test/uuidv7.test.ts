import { validate, version } from 'uuid';
import { describe, expect, it } from 'vitest';
import { uuidv7 } from '../src/uuidv7.js';

describe('uuidv7', () => {
  it('makes valid version-7 ids, unique and strictly increasing within the process, across pool refills', () => {
    const ids = Array.from({ length: 20_000 }, () => uuidv7());
    expect(ids.every((id) => validate(id) && version(id) === 7)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.every((id, i) => i === 0 || id > ids[i - 1]!)).toBe(true);
  });

  it('starts with the current Unix time in milliseconds', () => {
    const before = Date.now();
    const id = uuidv7();
    const ms = parseInt(id.replaceAll('-', '').slice(0, 12), 16);
    expect(ms).toBeGreaterThanOrEqual(before);
    expect(ms).toBeLessThanOrEqual(Date.now() + 1);
  });

  it('draws fresh random bits for every id, not a repeated block', () => {
    const tails = Array.from({ length: 1000 }, () => uuidv7().slice(-12));
    expect(new Set(tails).size).toBe(tails.length);
  });
});
