// Runs a few rows of the chaos matrix (chaos/) programmatically against a private PostgreSQL
// and a private Kafka: every committed event must be read back. Timings are not asserted.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI } from '../../chaos/relay-process.js';
import { runMatrix, select } from '../../chaos/run.js';
import { scenarios } from '../../chaos/scenarios/index.js';

const resultsDir = mkdtempSync(join(tmpdir(), 'herald-chaos-results-'));

afterAll(() => rmSync(resultsDir, { recursive: true, force: true }));

describe('the quick chaos matrix', () => {
  it('loses no committed event and delivers no rolled-back one in any quick row', async () => {
    expect(existsSync(CLI), `${CLI} is missing: run npm run build first`).toBe(true);
    const runs = select(scenarios, { quick: true });
    expect(runs.length).toBeGreaterThanOrEqual(2);
    const { rows, failed } = await runMatrix(runs, { resultsDir, log: () => undefined });
    for (const row of rows) {
      expect(row.reason.startsWith('harness error'), `${row.scenario}/${row.source}: ${row.reason}`).toBe(false);
      expect(row.committed, `${row.scenario}/${row.source} committed something`).toBeGreaterThan(0);
      expect(row.lost, `${row.scenario}/${row.source} lost`).toBe(0);
      expect(row.rolledBackDelivered, `${row.scenario}/${row.source} rolled-back delivered`).toBe(0);
      expect(row.unknown, `${row.scenario}/${row.source} unknown messages`).toBe(0);
    }
    expect(failed, rows.map((r) => `${r.scenario}/${r.source}: ${r.verdict} ${r.reason}`).join('\n')).toBe(false);
  }, 300_000);
});
