import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/postgres/embedded.js';
import { migratePostgres } from '../../src/postgres/migrate.js';
import { PostgresOutbox } from '../../src/postgres/outbox.js';
import { orderContracts, orderPlaced } from '../support/contracts.js';
import { herald } from '../support/services.js';

/*
 * `herald status` against a private embedded PostgreSQL (own port and temporary directory,
 * removed afterwards), with an outbox row the slot has already passed: the state a relay that
 * delivered a row and never deleted it leaves behind (issue 15).
 */

let server: EmbeddedPostgres;
let root: string;
let db: pg.Client;

beforeAll(async () => {
  root = path.join(tmpdir(), `herald-status-leftovers-${randomUUID()}`);
  server = await startEmbeddedPostgres({ dataDir: path.join(root, 'postgres') });
  db = new pg.Client({ connectionString: server.url });
  await db.connect();
});

afterAll(async () => {
  await db?.end().catch(() => undefined);
  await server?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

describe('herald status, delivered but not deleted', () => {
  it('warns and exits 1 while a row the slot has passed is still in the outbox, exits 0 with --exit-zero', async () => {
    await migratePostgres(server.url, { logical: {} });
    const outbox = new PostgresOutbox({ contracts: orderContracts('leftovers.status'), source: '/status-test' });
    await db.query('BEGIN');
    await outbox.appendMany(db, [{ contract: 'orders.order-placed', data: orderPlaced('left') }]);
    await db.query('COMMIT');
    // The slot moves past the row's transaction without the row being deleted; the checkpoint
    // logs the running transactions so that catalog_xmin moves past it too.
    for (let i = 0; i < 2; i++) {
      await db.query('CHECKPOINT');
      await db.query(`SELECT pg_replication_slot_advance('herald_relay', pg_current_wal_lsn())`);
    }

    const status = await herald(['status', '--database', server.url, '--json']);
    expect(status.code, status.stderr).toBe(1);
    expect(status.stderr).toContain(
      'herald: warning: 1 outbox row(s) were delivered but not deleted: slot herald_relay is past their transactions',
    );
    const json = JSON.parse(status.stdout) as { pending: number; slot: { deliveredNotDeleted: number }; warnings: string[] };
    expect(json.pending).toBe(1);
    expect(json.slot.deliveredNotDeleted).toBe(1);

    const human = await herald(['status', '--database', server.url, '--exit-zero']);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain('delivered but not deleted 1');

    // The fix the README gives clears it.
    await db.query(
      `DELETE FROM herald.outbox WHERE age(xmin) > (SELECT age(catalog_xmin) FROM pg_replication_slots WHERE slot_name = 'herald_relay')`,
    );
    const calm = await herald(['status', '--database', server.url]);
    expect(calm.code, calm.stderr).toBe(0);
  });
});
