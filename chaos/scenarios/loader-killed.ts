// The loader (a real `herald load` process writing a DuckDB file) is SIGKILLed twice while it
// loads a backlog, and restarted each time. The broker redelivers what was not acknowledged;
// the warehouse must still hold every committed event exactly once (the loader skips event ids
// it already has). The row reads the DuckDB table back itself and fails on any loss or
// duplicate row; the topic is checked by the harness as in every row.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkWarehouse, LoaderProcess, writeChaosContract, type LoaderStart } from '../loader-process.js';
import type { Scenario } from '../scenario.js';

/** The loader-killed-mid-batch row. */
export const loaderKilledMidBatch: Scenario = {
  name: 'loader-killed-mid-batch',
  title: 'loader SIGKILL ×2 on a backlog (DuckDB), restarted',
  sources: ['polling', 'logical'],
  expected: '0 lost, 0 duplicate rows in the warehouse',
  async run(ctx) {
    const dir = mkdtempSync(join(tmpdir(), 'herald-chaos-loader-'));
    try {
      writeChaosContract(join(dir, 'contracts'), ctx.topic);
      const start: LoaderStart = {
        name: 'loader',
        broker: `kafka://${ctx.kafka.bootstrap}`,
        warehouseFile: join(dir, 'warehouse.duckdb'),
        contractsDir: join(dir, 'contracts'),
        group: `chaos-loader-${ctx.schema}`,
        // Kept with the relays' logs (chaos/results/logs/, not committed).
        logFile: fileURLToPath(new URL(`../results/logs/${ctx.schema}-loader.log`, import.meta.url)),
        args: ['--max-batch', '100', '--max-wait', '100'],
      };
      await ctx.startRelay();
      // A backlog first: the loader starts behind, so its kills fall inside batches.
      await ctx.waitForDelivered(300, 30_000);
      let loader = await LoaderProcess.start(start);
      ctx.faultStarted('2× (SIGKILL the loader 1.5 s after it started on a backlog, restart)');
      for (let round = 0; round < 2; round++) {
        await ctx.sleep(1_500);
        await loader.kill();
        loader = await LoaderProcess.start(start);
      }
      await ctx.faultEnded();
      // Give the loader time to catch up, then stop it cleanly and read the warehouse back
      // (DuckDB lets one process hold the file). Not complete yet: start it again, up to 4 times.
      await ctx.waitForDelivered(ctx.committed(), 45_000);
      let result;
      for (let attempt = 0; ; attempt++) {
        await ctx.sleep(4_000);
        const code = await loader.stop();
        result = await checkWarehouse(start.warehouseFile, ctx.committedIds());
        if (result.lost === 0 || attempt === 3) {
          ctx.note(`loader exited ${String(code)} on SIGTERM`);
          break;
        }
        loader = await LoaderProcess.start(start);
      }
      ctx.note(
        `warehouse: ${result.rows} rows for ${ctx.committed()} committed; lost ${result.lost}, duplicate rows ${result.duplicates}, unknown ${result.unknown}`,
      );
      if (result.lost > 0 || result.duplicates > 0 || result.unknown > 0)
        throw new Error(`warehouse not exactly once: lost ${result.lost} (${result.lostExamples.join(', ')}), duplicate rows ${result.duplicates}, unknown ${result.unknown}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
