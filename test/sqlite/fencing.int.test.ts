import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { ErrorCodes, isHeraldError } from '../../src/errors.js';
import { SqlitePollingSource } from '../../src/sqlite/polling-source.js';
import { migrateSqlite } from '../../src/sqlite/migrate.js';
import { sqliteLocation } from '../../src/sqlite/connect.js';
import { sqliteStore } from '../../src/sqlite/store.js';
import { orderContracts, orderPlaced } from '../support/contracts.js';
import { freshSqlite } from './sqlite-support.js';

const sources: SqlitePollingSource[] = [];
afterAll(async () => {
  await Promise.all(sources.map((s) => s.close()));
});

const leaseLost = (err: unknown): boolean => isHeraldError(err, ErrorCodes.LEASE_LOST) && err.retryable;

describe('SqlitePollingSource lease epochs', () => {
  it('refuses to delete, reschedule or dead-letter under a lease another relay took over, and names the relay to fence', async () => {
    const { file, url } = freshSqlite('fence');
    const store = sqliteStore(url, { buckets: 4 });
    await store.migrate();
    const db = new Database(file);
    const writer = store.writer({ contracts: orderContracts(), source: '/test' });
    db.transaction(() =>
      writer.appendManySync(
        db,
        ['alice', 'bob', 'carol', 'dave'].map((k) => ({ contract: 'orders.order-placed', data: orderPlaced(k, 0) })),
      ),
    )();
    const rows = (sql: string): unknown[] => db.prepare(sql).all();

    const first = new SqlitePollingSource({ database: url, leaseMs: 3000 });
    const second = new SqlitePollingSource({ database: url, leaseMs: 3000 });
    sources.push(first, second);
    await first.start();
    const read = await first.next(100);
    expect(read).toHaveLength(4);
    // As if `first` had stalled past its lease: its lease and its heartbeat are in the past.
    db.prepare(`UPDATE herald_relay_lease SET expires_at = expires_at - 3600000`).run();
    db.prepare(`UPDATE herald_relay_instance SET seen_at = seen_at - 3600000 WHERE id = ?`).run(first.instanceId);
    await second.start();
    const again = await second.next(100);
    expect(again.map((r) => r.position)).toEqual(read.map((r) => r.position));
    expect(new Set(rows(`SELECT epoch FROM herald_relay_lease`).map((r) => (r as { epoch: number }).epoch))).toEqual(new Set([2]));
    expect(second.fencing().previous).toEqual([`herald-sqlite-herald-${first.instanceId}`]);

    const before = rows(`SELECT id, attempts, retry_at FROM herald_outbox ORDER BY id`);
    await expect(first.delivered(read)).rejects.toSatisfy(leaseLost);
    await expect(first.retryLater(read[0]!, 'refused', 1000)).rejects.toSatisfy(leaseLost);
    await expect(first.deadLetter(read[1]!, 'refused')).rejects.toSatisfy(leaseLost);
    await expect(first.confirmLease(read)).rejects.toSatisfy(leaseLost);
    expect(rows(`SELECT id, attempts, retry_at FROM herald_outbox ORDER BY id`)).toEqual(before);
    expect(rows(`SELECT id FROM herald_dead_letter`)).toEqual([]);

    // The relay that holds the lease records as before.
    await second.confirmLease(again);
    await second.retryLater(again[0]!, 'refused', 1);
    await second.deadLetter(again[1]!, 'refused');
    await second.delivered(again.slice(2));
    expect(rows(`SELECT count(*) AS n FROM herald_outbox`)).toEqual([{ n: 1 }]);
    db.close();
  });

  it('names the upgrade a file migrated before lease epochs needs, and migrate adds the column', async () => {
    const { file, url } = freshSqlite('fence-upgrade');
    await migrateSqlite(sqliteLocation(url), { buckets: 2 });
    const db = new Database(file);
    db.exec(`ALTER TABLE herald_relay_lease DROP COLUMN epoch`);
    const relay = new SqlitePollingSource({ database: url });
    sources.push(relay);
    await expect(relay.next(10)).rejects.toSatisfy(
      (e: unknown) => isHeraldError(e, ErrorCodes.NOT_MIGRATED) && /run 'herald migrate' to upgrade/.test(e.message),
    );
    await migrateSqlite(sqliteLocation(url), {});
    expect(db.prepare(`SELECT bucket, epoch FROM herald_relay_lease ORDER BY bucket`).all()).toEqual([
      { bucket: 0, epoch: 0 },
      { bucket: 1, epoch: 0 },
    ]);
    db.close();
  });
});
