// Personal data must stay where the contract puts it. Every event carries a canary in
// `contactEmail`, a field the chaos contract marks PII with piiTreatment `mask`; a relay and a
// loader (both with `--json` logs, debug off) carry the events into a DuckDB file. The canary must
// not appear in any relay or loader log line, and the warehouse must hold the field masked
// (`****@example.com`) and the canary nowhere. The topic itself carries it: that is the data.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkWarehouse, LoaderProcess, warehouseText, writeChaosContract } from '../loader-process.js';
import type { Scenario } from '../scenario.js';

const CANARY = `canary${randomBytes(6).toString('hex')}`;

/** The pii-canaries row. */
export const piiCanaries: Scenario = {
  name: 'pii-canaries',
  title: 'personal-data canaries through relay and loader (PII field masked)',
  sources: ['polling', 'logical'],
  expected: '0 lost; the canary in no log line and only masked in the warehouse',
  workload: { piiCanary: CANARY },
  async run(ctx) {
    const dir = mkdtempSync(join(tmpdir(), 'herald-chaos-pii-'));
    try {
      writeChaosContract(join(dir, 'contracts'), ctx.topic);
      const warehouseFile = join(dir, 'warehouse.duckdb');
      const relay = await ctx.startRelay();
      const loader = await LoaderProcess.start({
        name: 'loader',
        broker: `kafka://${ctx.kafka.bootstrap}`,
        warehouseFile,
        contractsDir: join(dir, 'contracts'),
        group: `chaos-pii-${ctx.schema}`,
        logFile: fileURLToPath(new URL(`../results/logs/${ctx.schema}-loader.log`, import.meta.url)),
        args: ['--max-batch', '100', '--max-wait', '100'],
      });
      ctx.faultStarted('none: canaries in a PII field for 6 s');
      await ctx.sleep(6_000);
      await ctx.faultEnded();
      await ctx.waitForDelivered(ctx.committed(), 30_000);
      await ctx.sleep(4_000);
      const code = await loader.stop();
      const loaded = await checkWarehouse(warehouseFile, ctx.committedIds());
      const text = await warehouseText(warehouseFile);
      const masked = (text.match(/\*\*\*\*@example\.com/g) ?? []).length;
      const inLogs = [...relay.lines, ...loader.lines].filter((l) => l.includes(CANARY)).length;
      const inWarehouse = (text.match(new RegExp(CANARY, 'g')) ?? []).length;
      ctx.note(
        `canary ${CANARY}: ${inLogs} log line(s) of ${relay.lines.length + loader.lines.length}, ${inWarehouse} in the warehouse; ` +
          `${masked} masked values for ${loaded.rows} rows (${ctx.committed()} committed, lost ${loaded.lost}); loader exited ${String(code)}`,
      );
      if (inLogs > 0 || inWarehouse > 0) throw new Error(`personal data leaked: ${inLogs} log line(s), ${inWarehouse} warehouse value(s)`);
      if (loaded.lost > 0 || masked < loaded.rows) throw new Error(`warehouse: lost ${loaded.lost}, masked ${masked} of ${loaded.rows} rows`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
