import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { statusWarnings } from '../../src/cli/status-warnings.js';
import { parseWatchSeconds } from '../../src/cli/watch.js';
import { followingCounter } from '../../src/observe/following-counter.js';
import type { OutboxStatus } from '../../src/postgres/migrate.js';

const calm: OutboxStatus = { pending: 3, oldestPendingSeconds: 2, deadLettered: 0, relays: 1, topics: [] };

describe('statusWarnings', () => {
  it('has nothing to say about a small, young backlog without dead letters', () => {
    expect(statusWarnings(calm)).toEqual([]);
  });

  it('names the topics with dead letters, and a backlog older than maxAgeSeconds', () => {
    const status: OutboxStatus = {
      ...calm,
      deadLettered: 3,
      oldestPendingSeconds: 400,
      topics: [
        { topic: 'a', pending: 1, retrying: 0, oldestPendingSeconds: 400, deadLettered: 2 },
        { topic: 'b', pending: 2, retrying: 0, oldestPendingSeconds: 1, deadLettered: 1 },
      ],
    };
    expect(statusWarnings(status)).toEqual([
      "3 dead-lettered event(s) in 'a', 'b'; see 'herald dead-letters', requeue with --requeue",
      'the oldest pending event waits for 6m 40s (threshold 5m 0s); is a relay running and reaching the broker?',
    ]);
    expect(statusWarnings(status, { maxAgeSeconds: 600 })).toHaveLength(1);
  });

  it('adds the slot warnings: past the lag threshold, and WAL about to go', () => {
    const slot = {
      slot: 'herald_relay',
      active: false,
      lagBytes: 2048,
      walStatus: 'unreserved',
    } as unknown as NonNullable<OutboxStatus['slot']>;
    expect(statusWarnings({ ...calm, slot }, { maxLagBytes: 1024 })).toEqual([
      'slot herald_relay needs WAL that PostgreSQL may remove at the next checkpoint; the relay must catch up now',
      'slot herald_relay keeps 2.0 kB of WAL unconfirmed (threshold 1.0 kB); no relay is streaming it',
    ]);
  });
});

describe('parseWatchSeconds', () => {
  it('defaults to 2 seconds for the bare flag and takes a number of seconds', () => {
    expect(parseWatchSeconds(true)).toBe(2);
    expect(parseWatchSeconds('0.5')).toBe(0.5);
  });

  it('refuses anything else, naming the flag', () => {
    for (const bad of ['0', '-1', 'soon', '']) expect(() => parseWatchSeconds(bad)).toThrow(/--watch must be a number of seconds/);
  });
});

describe('followingCounter', () => {
  it('shows a series at its total from the first scrape, then adds only what the total grew by', async () => {
    const registry = new Registry();
    const totals = new Map([['t1', 0]]);
    followingCounter(registry, 'herald_test_total', 'A test counter.', ['topic'], () =>
      [...totals].map(([topic, n]) => [{ topic }, n] as const),
    );
    expect(await registry.metrics()).toContain('herald_test_total{topic="t1"} 0');
    totals.set('t1', 5).set('t2', 3);
    let text = await registry.metrics();
    expect(text).toContain('herald_test_total{topic="t1"} 5');
    expect(text).toContain('herald_test_total{topic="t2"} 3');
    totals.set('t1', 4); // never decreases
    text = await registry.metrics();
    expect(text).toContain('herald_test_total{topic="t1"} 5');
  });
});
