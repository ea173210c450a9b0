import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SqliteOutbox } from '../../src/sqlite/outbox.js';
import { countRows } from '../../src/warehouse/duckdb-instance.js';
import { orderContracts, orderPlaced } from '../support/contracts.js';
import { herald } from '../support/services.js';

describe('herald on sqlite (built CLI)', () => {
  it('runs the demo on a SQLite file with no services: every committed event becomes one warehouse row, nothing else does', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'herald-demo-sqlite-'));
    const run = await herald(['demo', '--database', 'sqlite:', '--data-dir', dir, '--orders', '60', '--json']);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      ordersAttempted: 61,
      eventsWritten: 58,
      rejectedByContract: 2,
      rolledBack: 1,
      delivered: 58,
      pending: 0,
      deadLettered: 0,
      inWarehouse: 58,
    });
    const file = join(dir, 'orders.db');
    expect(existsSync(file)).toBe(true);
    const db = new Database(file, { readonly: true });
    // The orders committed with their events; the refused and rolled-back ones left nothing.
    expect(db.prepare('SELECT COUNT(*) AS n FROM orders').get()).toEqual({ n: 58 });
    expect(db.prepare('SELECT COUNT(*) AS n FROM herald_outbox').get()).toEqual({ n: 0 });
    db.close();
    expect(await countRows(join(dir, 'warehouse.duckdb'), 'orders_order_placed')).toBe(58);
    // A second run uses the same file and adds to the warehouse.
    const again = await herald(['demo', '--database', `sqlite:${file}`, '--data-dir', dir, '--orders', '10', '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(await countRows(join(dir, 'warehouse.duckdb'), 'orders_order_placed')).toBe(58 + 10);
  });

  it('migrates, reports status and dead letters, and refuses :memory: with the reason', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'herald-cli-sqlite-'));
    const file = join(dir, 'app.db');
    const url = `sqlite:${file}`;
    const missing = await herald(['status', '--database', url]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain(`the sqlite file '${file}' does not exist; run 'herald migrate`);
    const migrate = await herald(['migrate', '--database', url, '--buckets', '8', '--json']);
    expect(migrate.code, migrate.stderr).toBe(0);
    expect(JSON.parse(migrate.stdout)).toMatchObject({ schema: file, buckets: 8, created: true });
    expect((await herald(['migrate', '--database', url])).stdout).toContain(`checked the outbox in file '${file}' (8 ordering buckets)`);

    const db = new Database(file);
    const outbox = new SqliteOutbox({ contracts: orderContracts(), source: '/test' });
    db.transaction(() => outbox.appendManySync(db, [{ contract: 'orders.order-placed', data: orderPlaced('a') }]))();
    db.prepare(
      `INSERT INTO herald_dead_letter (id, event_id, topic, partition_key, type, source, time, data, created_at, attempts, last_error)
      VALUES (999, 'dead-1', 'orders.order-placed.v1', 'b', 't', '/s', 'now', '{}', 0, 3, 'broker said no')`,
    ).run();
    db.close();
    // A dead letter is a warning: exit 1, unless --exit-zero.
    const status = await herald(['status', '--database', url, '--json']);
    expect(status.code, status.stderr).toBe(1);
    expect(JSON.parse(status.stdout)).toMatchObject({ pending: 1, deadLettered: 1, relays: 0 });
    expect((await herald(['status', '--database', url, '--json', '--exit-zero'])).code).toBe(0);
    const letters = await herald(['dead-letters', '--database', url, '--json']);
    expect(JSON.parse(letters.stdout)).toMatchObject([{ eventId: 'dead-1', attempts: 3, lastError: 'broker said no' }]);
    const requeue = await herald(['dead-letters', '--database', url, '--requeue', '--json']);
    expect(JSON.parse(requeue.stdout)).toEqual({ requeued: 1 });
    expect(JSON.parse((await herald(['status', '--database', url, '--json'])).stdout)).toMatchObject({ pending: 2, deadLettered: 0 });

    const memory = await herald(['relay', '--database', 'sqlite::memory:', '--kafka', 'kafka://127.0.0.1:9092']);
    expect(memory.code).not.toBe(0);
    expect(memory.stderr).toContain('an in-memory database exists only inside one connection');
  });
});
