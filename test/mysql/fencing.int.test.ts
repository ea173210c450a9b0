import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes, isHeraldError } from '../../src/errors.js';
import { migrateMysql } from '../../src/mysql/migrate.js';
import { MysqlOutbox } from '../../src/mysql/outbox.js';
import { MysqlPollingSource } from '../../src/mysql/polling-source.js';
import { recordedDespiteLeaseLost } from '../../src/relay/lease-book.js';
import { orderContracts, orderPlaced } from '../support/contracts.js';
import { uniqueName } from '../support/services.js';
import { MYSQL_URL, mysqlConnection, rows } from './mysql-support.js';

const schema = uniqueName('herald_fence_test');
const outbox = new MysqlOutbox({ contracts: orderContracts(), source: '/test', schema });
const sources: MysqlPollingSource[] = [];
let db: mysql.Connection;

beforeAll(async () => {
  db = await mysqlConnection();
  await migrateMysql(MYSQL_URL, { schema, buckets: 4 });
});
afterAll(async () => {
  await Promise.all(sources.map((s) => s.close()));
  await db.query(`DROP DATABASE IF EXISTS \`${schema}\``);
  await db.end();
});

const leaseLost = (err: unknown): boolean => isHeraldError(err, ErrorCodes.LEASE_LOST) && err.retryable;

describe('MysqlPollingSource lease epochs', () => {
  it('refuses to delete, reschedule or dead-letter under a lease another relay took over, and names the relay to fence', async () => {
    await db.beginTransaction();
    await outbox.appendMany(
      db,
      ['alice', 'bob', 'carol', 'dave'].map((k) => ({ contract: 'orders.order-placed', data: orderPlaced(k, 0) })),
    );
    await db.commit();
    const first = new MysqlPollingSource({ database: MYSQL_URL, schema, leaseMs: 3000 });
    const second = new MysqlPollingSource({ database: MYSQL_URL, schema, leaseMs: 3000 });
    sources.push(first, second);
    await first.start();
    const read = await first.next(100);
    expect(read).toHaveLength(4);
    // As if `first` had stalled past its lease: its lease and its heartbeat are in the past.
    await db.query(`UPDATE \`${schema}\`.relay_lease SET expires_at = NOW(6) - INTERVAL 1 SECOND`);
    await db.query(`UPDATE \`${schema}\`.relay_instance SET seen_at = NOW(6) - INTERVAL 1 HOUR WHERE id = ?`, [first.instanceId]);
    await second.start();
    const again = await second.next(100);
    expect(again.map((r) => r.position)).toEqual(read.map((r) => r.position));
    expect(new Set((await rows(db, `SELECT CAST(epoch AS CHAR) AS e FROM \`${schema}\`.relay_lease`)).map((r) => r.e))).toEqual(
      new Set(['2']),
    );
    expect(second.fencing().previous).toEqual([`herald-${schema}-${first.instanceId}`]);

    const before = await rows(db, `SELECT id, attempts, retry_at FROM \`${schema}\`.outbox ORDER BY id`);
    await expect(first.delivered(read)).rejects.toSatisfy(leaseLost);
    await expect(first.retryLater(read[0]!, 'refused', 1000)).rejects.toSatisfy(leaseLost);
    await expect(first.deadLetter(read[1]!, 'refused')).rejects.toSatisfy(leaseLost);
    await expect(first.confirmLease(read)).rejects.toSatisfy(leaseLost);
    expect(await rows(db, `SELECT id, attempts, retry_at FROM \`${schema}\`.outbox ORDER BY id`)).toEqual(before);
    expect(await rows(db, `SELECT id FROM \`${schema}\`.dead_letter`)).toEqual([]);

    // The relay that holds the lease records as before.
    await second.confirmLease(again);
    await second.retryLater(again[0]!, 'refused', 1);
    await second.deadLetter(again[1]!, 'refused');
    await second.delivered(again.slice(2));
    expect(await rows(db, `SELECT COUNT(*) AS n FROM \`${schema}\`.outbox`)).toEqual([{ n: '1' }]);
  });

  it('deletes the events of buckets still held and reports how many, when another bucket of the batch moved on', async () => {
    await db.query(`DELETE FROM \`${schema}\`.outbox`);
    await db.query(`UPDATE \`${schema}\`.relay_lease SET owner = NULL, expires_at = NULL`);
    await db.beginTransaction();
    await outbox.appendMany(
      db,
      ['k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7', 'k8'].map((k) => ({ contract: 'orders.order-placed', data: orderPlaced(k, 0) })),
    );
    await db.commit();
    const only = new MysqlPollingSource({ database: MYSQL_URL, schema, leaseMs: 3000 });
    sources.push(only);
    await only.start();
    const read = await only.next(100);
    const buckets = [...new Set(read.map((r) => r.lease!.bucket))];
    expect(buckets.length).toBeGreaterThan(1);
    // One bucket changes owner behind this relay's back; the others stay its own.
    const moved = buckets[0]!;
    await db.query(`UPDATE \`${schema}\`.relay_lease SET owner = 'another', epoch = epoch + 1 WHERE bucket = ?`, [moved]);
    const kept = read.filter((r) => r.lease!.bucket !== moved).length;
    const err = await only.delivered(read).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(leaseLost(err)).toBe(true);
    expect(recordedDespiteLeaseLost(err)).toBe(kept);
    const left = (await rows(db, `SELECT CAST(id AS CHAR) AS id FROM \`${schema}\`.outbox`)).map((r) => r.id);
    expect(read.filter((r) => left.includes(r.position)).map((r) => r.lease!.bucket)).toEqual(
      read.filter((r) => r.lease!.bucket === moved).map(() => moved),
    );
  });
});
