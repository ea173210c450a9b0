import { chmod, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { PatternDemoSummary } from '../../src/cli/commands/demo-patterns.js';
import { KAFKA, herald } from '../support/services.js';

/** Runs `herald demo --pattern <p> --chaos` and returns its JSON summary. */
async function run(pattern: string): Promise<PatternDemoSummary> {
  const dir = await mkdtemp(join(tmpdir(), 'herald-patterns-'));
  await chmod(dir, 0o755);
  const r = await herald([
    'demo',
    '--pattern',
    pattern,
    '--chaos',
    '--kafka',
    `kafka://${KAFKA}`,
    '--orders',
    '120',
    '--data-dir',
    dir,
    '--json',
  ]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as PatternDemoSummary;
}

const totals = (s: PatternDemoSummary, source: string) => s.reconcile.sources.find((x) => x.source === source)!.totals;

describe('herald demo --pattern --chaos (real Kafka, reconcile at the end)', () => {
  it('direct: the divergence from crashes after COMMIT and failed publishes is exactly what reconcile reports missing', async () => {
    const s = await run('direct');
    expect(s.faults.crashesAfterCommit).toBeGreaterThan(0);
    expect(s.publishFailed).toBeGreaterThan(0);
    expect(s.placed).toBe(120);
    expect(totals(s, 'kafka')).toMatchObject({ expected: 120, missing: s.faults.crashesAfterCommit + s.publishFailed, unexpected: 0 });
    // The lost acknowledgement made the retry publish one event twice.
    expect(totals(s, 'kafka').duplicated).toBe(1);
    expect(totals(s, 'warehouse')).toMatchObject({ missing: s.faults.crashesAfterCommit + s.publishFailed, duplicated: 0 });
  });

  for (const pattern of ['outbox', 'logical']) {
    it(`${pattern}: nothing is lost; the lost acknowledgement duplicates on Kafka only, and the warehouse has each event once`, async () => {
      const s = await run(pattern);
      expect(s.faults.brokerRefusals).toBeGreaterThan(0);
      expect(s.faults.acksLost).toBe(1);
      expect(totals(s, 'kafka')).toMatchObject({ expected: 120, observed: 120, missing: 0, unexpected: 0 });
      expect(totals(s, 'kafka').duplicated).toBeGreaterThan(0);
      expect(totals(s, 'warehouse')).toMatchObject({ expected: 120, observed: 120, missing: 0, duplicated: 0, unexpected: 0 });
    });
  }

  it('listen: every published order is applied exactly once after a consumer crash mid-batch', async () => {
    const s = await run('listen');
    expect(s.refused).toBeGreaterThan(0);
    expect(s.placed + s.refused).toBe(120);
    expect(s.faults.consumerCrashes).toBe(1);
    expect(s.applied).toBe(s.placed);
    expect(s.doubleApplied).toBe(0);
    expect(totals(s, 'kafka')).toMatchObject({ expected: s.placed, missing: 0, unexpected: 0 });
    expect(totals(s, 'warehouse')).toMatchObject({ expected: s.placed, missing: 0, duplicated: 0 });
  });
});
