import Database from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { describe, expect, it } from 'vitest';
import { ErrorCodes, isHeraldError } from '../../src/errors.js';
import type { RelayRecord } from '../../src/relay/source.js';
import { SqlitePollingSource } from '../../src/sqlite/polling-source.js';
import { sqliteStore } from '../../src/sqlite/store.js';
import { orderContracts, orderPlaced } from '../support/contracts.js';
import { freshSqlite } from './sqlite-support.js';

const CONTRACT = 'orders.order-placed';

/** A migrated file with one pending event, and another connection that can take the write lock. */
async function lockedFile(busyTimeoutMs: number) {
  const { file } = freshSqlite('locked');
  const url = `sqlite:${file}?busy_timeout=${busyTimeoutMs}`;
  const store = sqliteStore(url);
  await store.migrate();
  const app = new Database(file);
  app.transaction(() => store.writer({ contracts: orderContracts(), source: '/test' }).appendSync(app, CONTRACT, orderPlaced('k')))();
  const holder = new Database(file);
  return { file, url, store, app, holder, hold: () => holder.exec('BEGIN EXCLUSIVE'), release: () => holder.exec('COMMIT') };
}

describe('sqlite: a file locked by another connection', () => {
  it('fails after the busy timeout with an error that names the file and says what to do', async () => {
    const t = await lockedFile(300);
    const source = new SqlitePollingSource({ database: t.url, leaseMs: 1000 });
    await source.start();
    t.hold();
    const started = Date.now();
    const err = await source.next(10).catch((e: Error) => e);
    const waited = Date.now() - started;
    t.release();
    expect(isHeraldError(err, ErrorCodes.DATABASE_ERROR)).toBe(true);
    expect((err as unknown as { retryable: boolean }).retryable).toBe(true);
    expect((err as Error).message).toMatch(
      /^cannot claim buckets: the sqlite file '.*locked-\d+\.db' stayed locked by another connection for \d+ ms \(SQLITE_BUSY\)/,
    );
    expect((err as Error).message).toContain(t.file);
    expect((err as Error).message).toContain('keep write transactions short and commit them, or wait longer with ?busy_timeout=<ms>');
    expect(waited).toBeGreaterThanOrEqual(280);
    expect(waited).toBeLessThan(3000);
    // Every write of Herald's tools says the same: requeue, migrate.
    t.hold();
    for (const p of [t.store.requeue(), t.store.migrate()]) {
      const e = await p.catch((x: Error) => x);
      expect(isHeraldError(e, ErrorCodes.DATABASE_ERROR)).toBe(true);
      expect((e as Error).message).toContain(`the sqlite file '${t.file}' stayed locked`);
    }
    // ...while reads go on: in WAL mode a writer never blocks a reader.
    expect((await t.store.status()).pending).toBe(1);
    t.release();
    await source.close();
  });

  it('waits for a lock released within the busy timeout without blocking the event loop', async () => {
    const t = await lockedFile(5000);
    const source = new SqlitePollingSource({ database: t.url, leaseMs: 1000 });
    await source.start();
    t.hold();
    // The release runs on this process's event loop: it can only fire if Herald's wait is asynchronous.
    const released = new Promise<number>((resolve) =>
      setTimeout(() => {
        t.release();
        resolve(Date.now());
      }, 300),
    );
    const records: RelayRecord[] = await source.next(10);
    const done = Date.now();
    expect(records).toHaveLength(1);
    expect(done).toBeGreaterThanOrEqual(await released);
    await source.delivered(records);
    expect((await t.store.status()).pending).toBe(0);
    await source.close();
  });

  it("fails the service's own append after its connection's busy timeout, naming the file and the timeout", async () => {
    const t = await lockedFile(300);
    const writer = t.store.writer({ contracts: orderContracts(), source: '/test' });
    const app = new Database(t.file, { timeout: 200 });
    t.hold();
    let err: Error | undefined;
    try {
      app.transaction(() => writer.appendSync(app, CONTRACT, orderPlaced('k')))();
    } catch (e) {
      err = e as Error;
    }
    t.release();
    expect(isHeraldError(err, ErrorCodes.DATABASE_ERROR)).toBe(true);
    expect(err!.message).toContain(
      `cannot append 1 event(s) to the outbox: the sqlite file '${t.file}' stayed locked by another connection for 200 ms`,
    );
    expect(app.inTransaction).toBe(false);
    expect((await t.store.status()).pending).toBe(1);
  });

  it("does not stall an async data layer's open transaction in the same process: the relay waits for its COMMIT", async () => {
    const t = await lockedFile(5000);
    const source = new SqlitePollingSource({ database: t.url, leaseMs: 1000 });
    await source.start();
    const records = await source.next(10);
    expect(records).toHaveLength(1);
    const kysely = new Kysely<Record<string, never>>({ dialect: new SqliteDialect({ database: new Database(t.file) }) });
    const writer = t.store.writer({ contracts: orderContracts(), source: '/test' });
    let committedAt = 0;
    let delivering: Promise<number> | undefined;
    await kysely.transaction().execute(async (trx) => {
      await writer.append(trx, CONTRACT, orderPlaced('k2')); // takes the write lock
      // While this transaction awaits, the relay (same process, same event loop) wants to write.
      delivering = source.delivered(records).then(() => Date.now());
      await new Promise((r) => setTimeout(r, 300));
      committedAt = Date.now();
    });
    expect(await delivering!).toBeGreaterThanOrEqual(committedAt);
    expect((await t.store.status()).pending).toBe(1);
    await kysely.destroy();
    await source.close();
  });
});
