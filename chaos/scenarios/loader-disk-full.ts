// The disk under the loader's warehouse fills up while it loads. The DuckDB file lives on a
// small tmpfs that this row mounts (it needs root) and fills with a filler file while the loader
// runs; the filler is removed after a while. Expected: the loader says what failed (the write,
// naming the warehouse) and retries with backoff instead of exiting, resumes once there is room,
// and the warehouse holds every committed event exactly once.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkWarehouse, LoaderProcess, writeChaosContract } from '../loader-process.js';
import type { Scenario } from '../scenario.js';

const TMPFS_MB = 24;

/** The loader-disk-full row. */
export const loaderDiskFull: Scenario = {
  name: 'loader-disk-full',
  title: `loader's disk full (${TMPFS_MB} MB tmpfs filled) 8 s, then freed`,
  sources: ['polling'],
  expected: '0 lost, 0 duplicate rows; the loader retries and resumes',
  async run(ctx) {
    const dir = mkdtempSync(join(tmpdir(), 'herald-chaos-disk-'));
    const volume = join(dir, 'volume');
    execFileSync('mkdir', ['-p', volume]);
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_MB}m`, 'tmpfs', volume]);
    try {
      writeChaosContract(join(dir, 'contracts'), ctx.topic);
      const warehouseFile = join(volume, 'warehouse.duckdb');
      await ctx.startRelay();
      const loader = await LoaderProcess.start({
        name: 'loader',
        broker: `kafka://${ctx.kafka.bootstrap}`,
        warehouseFile,
        contractsDir: join(dir, 'contracts'),
        group: `chaos-disk-${ctx.schema}`,
        logFile: fileURLToPath(new URL(`../results/logs/${ctx.schema}-loader.log`, import.meta.url)),
        args: ['--max-batch', '100', '--max-wait', '100'],
      });
      await ctx.sleep(2_000);
      ctx.faultStarted('fill the warehouse volume to the last byte for 8 s');
      const filler = join(volume, 'filler');
      // dd stops at ENOSPC with an error: that is the point.
      try {
        execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=1M'], { stdio: 'ignore' });
      } catch {
        // full
      }
      writeFileSync(join(volume, 'probe'), ''); // the volume still takes metadata, not data
      await ctx.sleep(8_000);
      rmSync(filler, { force: true });
      await ctx.faultEnded();
      await ctx.waitForDelivered(ctx.committed(), 30_000);
      await ctx.sleep(6_000);
      const failures = loader.lines.filter((l) => /warehouse write failed, retrying/.test(l));
      const code = await loader.stop();
      const loaded = await checkWarehouse(warehouseFile, ctx.committedIds());
      ctx.note(
        `loader: ${failures.length} 'warehouse write failed, retrying' line(s)${failures[0] ? ` (first: ${failures[0].slice(0, 200)})` : ''}; exited ${String(code)} on SIGTERM; ` +
          `warehouse ${loaded.rows} rows for ${ctx.committed()} committed, lost ${loaded.lost}, duplicate rows ${loaded.duplicates}`,
      );
      if (loaded.lost > 0 || loaded.duplicates > 0 || loaded.unknown > 0)
        throw new Error(`warehouse not exactly once: lost ${loaded.lost}, duplicate rows ${loaded.duplicates}, unknown ${loaded.unknown}`);
    } finally {
      try {
        execFileSync('umount', [volume]);
      } catch {
        execFileSync('umount', ['-l', volume]);
      }
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
