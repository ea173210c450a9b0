import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/postgres/embedded.js';
import { LogicalSource } from '../../src/postgres/logical-source.js';
import { migratePostgres, postgresOutboxStatus } from '../../src/postgres/migrate.js';
import { PostgresOutbox } from '../../src/postgres/outbox.js';
import type { RelayRecord } from '../../src/relay/source.js';
import { statusWarnings } from '../../src/cli/status-warnings.js';
import { orderContracts, orderPlaced } from '../support/contracts.js';
import { uniqueName, waitFor } from '../support/services.js';

/*
 * Rows the logical relay delivered but never deleted (issue 15). PostgreSQL's walsender decodes
 * and sends a transaction as soon as its commit record is flushed, which is *before* the commit
 * becomes visible to other sessions (the backend leaves the ProcArray a moment later, or only
 * after a synchronous standby answered). A DELETE of the delivered rows that runs in that window
 * sees nothing; on main the relay then recorded its position past the events and confirmed the
 * slot, so the rows stayed in the outbox forever. The window is made as long as the test needs
 * with a synchronous standby that does not exist: the writer's COMMIT waits for it after the WAL
 * flush, so its rows are streamed but invisible until the test lets the commit finish.
 *
 * Everything runs on a private embedded PostgreSQL (own port, own temporary data directory,
 * removed afterwards): the shared cluster is never reconfigured.
 */

let server: EmbeddedPostgres;
let root: string;
let admin: pg.Client;
const open: { end(): Promise<void> }[] = [];
const sources: LogicalSource[] = [];

async function client(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: server.url });
  c.on('error', () => undefined);
  await c.connect();
  open.push(c);
  return c;
}

beforeAll(async () => {
  root = path.join(tmpdir(), `herald-leftovers-${randomUUID()}`);
  server = await startEmbeddedPostgres({ dataDir: path.join(root, 'postgres') });
  admin = await client();
  // Commits wait locally only, unless a session asks for `synchronous_commit = on`: then its
  // COMMIT waits for a standby that never connects (until the test clears the setting).
  await admin.query(`ALTER SYSTEM SET synchronous_commit = 'local'`);
  await admin.query(`SELECT pg_reload_conf()`);
});

afterAll(async () => {
  await Promise.all(open.splice(0).map((c) => c.end().catch(() => undefined)));
  await server?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

afterEach(async () => {
  await Promise.all(sources.splice(0).map((s) => s.close().catch(() => undefined)));
  await releaseCommits();
});

/** Makes every COMMIT with `synchronous_commit = on` wait for a standby that does not exist. */
async function holdCommits(): Promise<void> {
  await admin.query(`ALTER SYSTEM SET synchronous_standby_names = 'herald_test_absent_standby'`);
  await admin.query(`SELECT pg_reload_conf()`);
  expect(await waitFor(async () => (await setting('synchronous_standby_names')) === 'herald_test_absent_standby', 10_000)).toBe(true);
}

/** Lets the held commits finish (and new ones not wait). */
async function releaseCommits(): Promise<void> {
  await admin.query(`ALTER SYSTEM RESET synchronous_standby_names`);
  await admin.query(`SELECT pg_reload_conf()`);
}

async function setting(name: string): Promise<string> {
  const c = await client();
  try {
    const { rows } = await c.query(`SELECT current_setting($1) AS v`, [name]);
    return rows[0].v as string;
  } finally {
    await c.end();
  }
}

/** A fresh schema with its slot and publication, and a writer. */
async function setup() {
  const schema = uniqueName('leftovers');
  await migratePostgres(server.url, { schema, logical: {} });
  const outbox = new PostgresOutbox({ contracts: orderContracts('leftovers.topic'), source: '/leftovers-test', schema });
  const slot = `${schema}_relay`;
  /** Rows still in the outbox table, as any other session sees them. */
  const remaining = async (): Promise<number> => (await admin.query(`SELECT count(*)::int AS n FROM "${schema}".outbox`)).rows[0].n;
  /**
   * Starts a transaction appending one event whose COMMIT waits for the absent standby after its
   * WAL is flushed; resolves with the event id once the COMMIT is waiting. `committed` settles
   * when the COMMIT returns.
   */
  const writeHeld = async (key: string): Promise<{ id: string; committed: Promise<unknown> }> => {
    const w = await client();
    await w.query(`SET synchronous_commit = on`);
    await w.query('BEGIN');
    const [e] = await outbox.appendMany(w, [{ contract: 'orders.order-placed', data: orderPlaced(key) }]);
    const { rows } = await w.query('SELECT pg_backend_pid() AS pid');
    const committed = w.query('COMMIT');
    committed.catch(() => undefined);
    const waiting = await waitFor(
      async () =>
        (await admin.query(`SELECT wait_event FROM pg_stat_activity WHERE pid = $1`, [rows[0].pid])).rows[0]?.wait_event === 'SyncRep',
      10_000,
    );
    expect(waiting, 'the COMMIT waits for the synchronous standby').toBe(true);
    return { id: e!.id, committed };
  };
  const source = (): LogicalSource => {
    const s = new LogicalSource({ database: server.url, schema, heartbeatMs: 300 });
    sources.push(s);
    return s;
  };
  /** The next non-empty batch of `s`, or [] after `ms`. */
  const nextBatch = async (s: LogicalSource, ms = 10_000): Promise<RelayRecord[]> => {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      const batch = await s.next(100);
      if (batch.length > 0) return batch;
      await s.waitForWork(200, new AbortController().signal);
    }
    return [];
  };
  /** Whether the relay position row exists (on main it is written right away, rows or not). */
  const recorded = async (): Promise<boolean> =>
    (await admin.query(`SELECT 1 FROM "${schema}".relay_progress WHERE slot = $1`, [slot])).rows.length > 0;
  return { schema, slot, outbox, remaining, writeHeld, source, nextBatch, recorded };
}

describe('logical relay, rows streamed before their commit is visible', () => {
  it('deletes a delivered row even when the stream sent its transaction before the commit was visible', async () => {
    const t = await setup();
    await holdCommits();
    const held = await t.writeHeld('early-bird');
    expect(await t.remaining(), 'the held commit is not visible yet').toBe(0);

    const s = t.source();
    await s.start();
    const batch = await t.nextBatch(s);
    expect(batch.map((r) => r.outgoing.event.id)).toEqual([held.id]);
    // The broker acknowledged the batch; the source records it (in the background).
    await s.delivered(batch);
    // Wait until the recording ran at least once: on main it writes the position (deleting nothing);
    // fixed, it finds the transaction invisible and waits for it.
    expect(await waitFor(async () => (await t.recorded()) || s.stats.notYetVisible > 0, 10_000)).toBe(true);

    await releaseCommits();
    await held.committed;
    await s.close();
    expect(await t.remaining(), 'delivered rows left in the outbox').toBe(0);

    // Nothing is handed out again: the position covers the event.
    const again = t.source();
    await again.start();
    expect(await t.nextBatch(again, 1_500)).toEqual([]);
  });

  it('hands the event out again after a relay stopped before its row could be deleted', async () => {
    const t = await setup();
    await holdCommits();
    const held = await t.writeHeld('stopped');

    const first = t.source();
    await first.start();
    const batch = await t.nextBatch(first);
    expect(batch.map((r) => r.outgoing.event.id)).toEqual([held.id]);
    await first.delivered(batch);
    expect(await waitFor(async () => (await t.recorded()) || first.stats.notYetVisible > 0, 10_000)).toBe(true);
    // The relay stops (or dies) while the row is still invisible.
    await first.close();

    await releaseCommits();
    await held.committed;
    expect(await t.remaining()).toBe(1);

    // At least once: the next relay gets the event again, and deletes its row this time.
    const second = t.source();
    await second.start();
    const again = await t.nextBatch(second);
    expect(
      again.map((r) => r.outgoing.event.id),
      'the event is handed out again',
    ).toEqual([held.id]);
    await second.delivered(again);
    await second.close();
    expect(await t.remaining()).toBe(0);
  });
});

describe('herald status, rows the slot already passed', () => {
  it('warns about outbox rows committed before the slot confirmed position, and only those', async () => {
    const t = await setup();
    const w = await client();
    await w.query('BEGIN');
    const [left] = await t.outbox.appendMany(w, [{ contract: 'orders.order-placed', data: orderPlaced('left-behind') }]);
    await w.query('COMMIT');
    // A leftover as a lost DELETE leaves it: the slot moves past the row's transaction without
    // the row being deleted. A checkpoint logs the running transactions, which lets the slot's
    // catalog_xmin (the oldest transaction it may still send) move past the row's as well.
    for (let i = 0; i < 2; i++) {
      await admin.query('CHECKPOINT');
      await admin.query(`SELECT pg_replication_slot_advance($1, pg_current_wal_lsn())`, [t.slot]);
    }
    // A row the slot has not passed yet is pending, not left behind.
    await w.query('BEGIN');
    await t.outbox.appendMany(w, [{ contract: 'orders.order-placed', data: orderPlaced('pending') }]);
    await w.query('COMMIT');

    const status = await postgresOutboxStatus(server.url, { schema: t.schema });
    expect(status.pending).toBe(2);
    expect(status.slot?.deliveredNotDeleted, `row ${left!.id} is behind the slot`).toBe(1);
    const warnings = statusWarnings(status);
    expect(warnings.some((x) => x.includes('1 outbox row(s) were delivered but not deleted'))).toBe(true);
  });
});
