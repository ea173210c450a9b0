import { chmod, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { countRows, queryDuckDb } from '../../src/warehouse/duckdb-publisher.js';
import { KAFKA, herald, readTopic } from '../support/services.js';

/** A temp dir the embedded PostgreSQL (running as the 'postgres' user under root) can enter. */
async function demoDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'herald-demo-'));
  await chmod(dir, 0o755);
  return dir;
}

describe('herald demo', () => {
  it('runs on embedded PostgreSQL and DuckDB: every committed event becomes one row, nothing else does', async () => {
    const dir = await demoDir();
    const run = await herald(['demo', '--data-dir', dir, '--orders', '60', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout);
    expect(summary).toMatchObject({
      ordersAttempted: 61,
      eventsWritten: 58,
      rejectedByContract: 2,
      rolledBack: 1,
      delivered: 58,
      pending: 0,
      deadLettered: 0,
    });
    expect(await countRows(join(dir, 'warehouse.duckdb'))).toBe(58);
    const [row] = await queryDuckDb(join(dir, 'warehouse.duckdb'), `SELECT count(DISTINCT event_id) AS ids, min(type) AS type FROM events`);
    expect(row).toEqual({ ids: 58, type: 'orders.order-placed' });
    expect(summary.topCustomers.length).toBeGreaterThan(0);

    // A second run reuses the embedded database and adds to the warehouse.
    const again = await herald(['demo', '--data-dir', dir, '--orders', '10', '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(await countRows(join(dir, 'warehouse.duckdb'))).toBe(58 + 10);
  });

  it('goes through real Kafka with --kafka', async () => {
    const dir = await demoDir();
    const before = (await readTopic('orders.order-placed.v1').catch(() => [])).length;
    const run = await herald(['demo', '--data-dir', dir, '--orders', '30', '--kafka', `kafka://${KAFKA}`, '--json']);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ eventsWritten: 29, delivered: 29, pending: 0 });
    expect((await readTopic('orders.order-placed.v1')).length - before).toBe(29);
  });
});
