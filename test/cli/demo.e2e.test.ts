import { chmod, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { countRows, queryDuckDb } from '../../src/warehouse/duckdb-instance.js';
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
      inWarehouse: 58,
    });
    const warehouse = join(dir, 'warehouse.duckdb');
    expect(await countRows(warehouse, 'orders_order_placed')).toBe(58);
    const [row] = await queryDuckDb(
      warehouse,
      `SELECT count(DISTINCT _event_id) AS ids, min(_event_type) AS type, count(*) FILTER (customer_email <> '****@example.com') AS unmasked,
       min(typeof(total)) AS total_type, min(len(lines)) AS min_lines FROM orders_order_placed`,
    );
    expect(row).toEqual({ ids: 58, type: 'orders.order-placed', unmasked: 0, total_type: 'DECIMAL(12,2)', min_lines: 1 });
    expect(summary.topCustomers.length).toBeGreaterThan(0);
    expect(summary.topCustomers[0].email).toBe('****@example.com');

    // A second run reuses the embedded database and adds to the warehouse.
    const again = await herald(['demo', '--data-dir', dir, '--orders', '10', '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(await countRows(join(dir, 'warehouse.duckdb'), 'orders_order_placed')).toBe(58 + 10);
  });

  it('goes through real Kafka with --kafka, and on into the DuckDB warehouse', async () => {
    const dir = await demoDir();
    const before = (await readTopic('orders.order-placed.v1').catch(() => [])).length;
    const run = await herald(['demo', '--data-dir', dir, '--orders', '30', '--kafka', `kafka://${KAFKA}`, '--json']);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ eventsWritten: 29, delivered: 29, pending: 0, inWarehouse: 29 });
    expect((await readTopic('orders.order-placed.v1')).length - before).toBe(29);
    // ...and on from Kafka into the warehouse, through the loader (which also loads the topic's
    // earlier events: its consumer group is new).
    expect(await countRows(join(dir, 'warehouse.duckdb'), 'orders_order_placed')).toBeGreaterThanOrEqual(29);
  });
});
