import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { describe, expect, it } from 'vitest';
import { ErrorCodes, isHeraldError } from '../../src/errors.js';
import { sqliteStore } from '../../src/sqlite/store.js';
import { bucketExpression } from '../../src/sqlite/schema.js';
import { orderContracts, orderPlaced } from '../support/contracts.js';
import { freshSqlite } from './sqlite-support.js';

const CONTRACT = 'orders.order-placed';

async function migrated(options: { schema?: string; buckets?: number } = {}) {
  const { file, url } = freshSqlite();
  const store = sqliteStore(url, options);
  await store.migrate();
  const db = new Database(file);
  const writer = store.writer({ contracts: orderContracts(), source: '/test' });
  const table = `${options.schema ?? 'herald'}_outbox`;
  const rows = (): Record<string, unknown>[] => db.prepare(`SELECT * FROM ${table} ORDER BY id`).all() as Record<string, unknown>[];
  return { file, url, store, db, writer, rows };
}

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a throw');
}

describe('sqlite store: migrate', () => {
  it('creates the tables in WAL mode, idempotently, and refuses to change the bucket count', async () => {
    const { file, url } = freshSqlite();
    const store = sqliteStore(url, { buckets: 8 });
    expect(await store.migrate()).toMatchObject({ schema: file, buckets: 8, created: true });
    expect(await sqliteStore(url).migrate()).toMatchObject({ buckets: 8, created: false });
    const db = new Database(file, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    const tables = (
      db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'herald_%' ORDER BY name").all() as {
        name: string;
      }[]
    ).map((t) => t.name);
    expect(tables).toEqual(['herald_dead_letter', 'herald_meta', 'herald_outbox', 'herald_relay_instance', 'herald_relay_lease']);
    expect(db.prepare('SELECT COUNT(*) AS n FROM herald_relay_lease').get()).toEqual({ n: 8 });
    db.close();
    const err = await sqliteStore(url, { buckets: 16 })
      .migrate()
      .catch((e: Error) => e);
    expect(isHeraldError(err, ErrorCodes.CONFIG_INVALID)).toBe(true);
    expect((err as Error).message).toContain('has 8 buckets; the bucket count cannot change (got --buckets 16)');
  });

  it('prefixes the table names with the schema option, so two outboxes can share a file', async () => {
    const { rows, writer, db } = await migrated({ schema: 'billing' });
    db.transaction(() => writer.appendSync(db, CONTRACT, orderPlaced('k'))).immediate();
    expect(rows()).toHaveLength(1);
  });
});

describe('sqlite store: the writer', () => {
  it('appendSync inside db.transaction() writes the events in input order, with the commit', async () => {
    const { db, writer, rows } = await migrated();
    const events = db.transaction(() =>
      writer.appendManySync(
        db,
        [0, 1, 2].map((seq) => ({ contract: CONTRACT, data: orderPlaced('k1', seq) })),
      ),
    )();
    expect(rows().map((r) => r.event_id)).toEqual(events.map((e) => e.id));
    const first = rows()[0]!;
    expect(JSON.parse(String(first.data))).toEqual(events[0]!.data);
    expect(first).toMatchObject({ topic: 'orders.order-placed.v1', partition_key: 'k1', time: events[0]!.time, attempts: 0 });
  });

  it('writes nothing when the better-sqlite3 transaction throws', async () => {
    const { db, writer, rows } = await migrated();
    const err = thrown(() =>
      db.transaction(() => {
        writer.appendSync(db, CONTRACT, orderPlaced('k'));
        throw new Error('business rule failed');
      })(),
    );
    expect(err.message).toBe('business rule failed');
    expect(rows()).toEqual([]);
  });

  it('refuses a database in autocommit mode, saying what to pass, and writes nothing', async () => {
    const { db, writer, rows } = await migrated();
    const err = thrown(() => writer.appendSync(db, CONTRACT, orderPlaced('k')));
    expect(isHeraldError(err, ErrorCodes.TRANSACTION_REQUIRED)).toBe(true);
    expect(err.message).toContain('not inside a transaction (autocommit)');
    expect(err.message).toContain('db.transaction(() => { ...; outbox.appendSync(db, ...) })');
    await expect(writer.append(db, CONTRACT, orderPlaced('k'))).rejects.toThrow(/not inside a transaction/);
    expect(rows()).toEqual([]);
  });

  it('refuses something that is not a SQLite handle, listing what it accepts', async () => {
    const { writer } = await migrated();
    await expect(writer.append({ query: () => undefined }, CONTRACT, orderPlaced('x'))).rejects.toThrow(
      /expected a transaction: a better-sqlite3 Database inside db\.transaction\(\) \(use appendSync there\)/,
    );
    expect(() => writer.appendSync({}, CONTRACT, orderPlaced('x'))).toThrow(/for other data layers, await append\(tx, \.\.\.\)/);
  });

  it('validates before any SQL: an invalid event on a file without tables fails its contract, not the missing table', async () => {
    const { file } = freshSqlite();
    const db = new Database(file);
    const writer = sqliteStore(`sqlite:${file}`).writer({ contracts: orderContracts(), source: '/test' });
    const invalid = thrown(() => db.transaction(() => writer.appendSync(db, CONTRACT, { ...orderPlaced('k'), total: 'ten' }))());
    expect(isHeraldError(invalid, ErrorCodes.EVENT_INVALID)).toBe(true);
    const valid = thrown(() => db.transaction(() => writer.appendSync(db, CONTRACT, orderPlaced('k')))());
    expect(isHeraldError(valid, ErrorCodes.NOT_MIGRATED)).toBe(true);
    expect(valid.message).toContain(`the outbox tables do not exist in '${file}'; run 'herald migrate' first`);
  });

  it('the async append writes before it returns with a better-sqlite3 handle, so it is inside db.transaction() even unawaited', async () => {
    const { db, writer, rows } = await migrated();
    let pending: Promise<unknown> | undefined;
    db.transaction(() => {
      pending = writer.append(db, CONTRACT, orderPlaced('k'));
    })();
    await pending;
    expect(rows()).toHaveLength(1);
  });

  it("takes the tx of Drizzle's better-sqlite3 transaction, refuses its root db, and shows why the transaction must be synchronous", async () => {
    const { db: client, writer, rows } = await migrated();
    const db = drizzle(client);
    db.transaction((tx) => void writer.appendSync(tx, CONTRACT, orderPlaced('k')));
    expect(rows()).toHaveLength(1);
    const root = thrown(() => writer.appendSync(db, CONTRACT, orderPlaced('k')));
    expect(isHeraldError(root, ErrorCodes.TRANSACTION_REQUIRED)).toBe(true);
    expect(root.message).toContain('not the root Drizzle db');
    // better-sqlite3 itself refuses an async transaction function: an await inside it would run
    // after COMMIT. This is why Drizzle on better-sqlite3 goes through appendSync.
    expect(() => db.transaction(async () => undefined)).toThrow(/Transaction function cannot return a promise/);
    expect(rows()).toHaveLength(1);
  });
});

describe('sqlite store: buckets', () => {
  it('computes the bucket in the database, the same for a hand-written INSERT as for Herald, spread over the buckets', async () => {
    const { db, writer, rows } = await migrated();
    const keys = Array.from({ length: 64 }, (_, k) => `key-${k}`);
    db.transaction(() =>
      writer.appendManySync(
        db,
        keys.map((k) => ({ contract: CONTRACT, data: orderPlaced(k) })),
      ),
    )();
    // A writer that is not Herald (the sqlite3 shell, another language) gets the same columns filled.
    db.prepare(
      `INSERT INTO herald_outbox (event_id, topic, partition_key, type, source, time, data) VALUES ('e', 't', 'key-7', 'x', '/s', 'now', '{}')`,
    ).run();
    const all = rows();
    const bucketOf = (k: string): number =>
      (db.prepare(`SELECT ${bucketExpression(32)} AS b FROM (SELECT ? AS partition_key)`).get(k) as { b: number }).b;
    for (const r of all) expect(r.bucket).toBe(bucketOf(String(r.partition_key)));
    expect(all.at(-1)!.bucket).toBe(all.find((r) => r.partition_key === 'key-7')!.bucket);
    expect(typeof all.at(-1)!.created_at).toBe('number');
    expect(new Set(all.map((r) => r.bucket)).size).toBeGreaterThanOrEqual(20);
    // Fixed UUIDs that differ only in their last digits: the hash must spread those too. (200
    // random ones left some bucket empty in about 6 % of runs: 32 × (31/32)^200.)
    const uuids = Array.from({ length: 1000 }, (_, i) => `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`);
    expect(new Set(uuids.map(bucketOf)).size).toBe(32);
  });
});

describe('sqlite store: status', () => {
  it('reports pending events per topic with their age, retries and dead letters', async () => {
    const { db, writer, store } = await migrated();
    db.transaction(() =>
      writer.appendManySync(db, [
        { contract: CONTRACT, data: orderPlaced('a') },
        { contract: CONTRACT, data: orderPlaced('b') },
      ]),
    )();
    db.prepare(`UPDATE herald_outbox SET created_at = created_at - 5000, retry_at = created_at + 60000 WHERE partition_key = 'a'`).run();
    const status = await store.status();
    expect(status).toMatchObject({ pending: 2, deadLettered: 0, relays: 0 });
    expect(status.oldestPendingSeconds).toBeGreaterThanOrEqual(5);
    expect(status.oldestPendingSeconds).toBeLessThan(30);
    expect(status.topics).toEqual([
      { topic: 'orders.order-placed.v1', pending: 2, retrying: 1, oldestPendingSeconds: status.oldestPendingSeconds, deadLettered: 0 },
    ]);
  });

  it('says to run migrate on a file that has none of the tables, and does not create a missing file', async () => {
    const { file, url } = freshSqlite();
    const err = await sqliteStore(url)
      .status()
      .catch((e: Error) => e);
    expect(isHeraldError(err, ErrorCodes.NOT_MIGRATED)).toBe(true);
    expect((err as Error).message).toContain(`the sqlite file '${file}' does not exist; run 'herald migrate`);
    new Database(file).close();
    const empty = await sqliteStore(url)
      .status()
      .catch((e: Error) => e);
    expect(isHeraldError(empty, ErrorCodes.NOT_MIGRATED)).toBe(true);
  });
});
