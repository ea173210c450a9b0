import pg from 'pg';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresInbox, migrateInbox, pruneInbox } from '../../src/postgres/inbox.js';
import { PG_URL, pgClient, uniqueName } from '../support/services.js';

describe('postgres inbox', () => {
  const schema = uniqueName('inbox');
  const inbox = new PostgresInbox({ schema });
  let db: pg.Client;

  /** Runs `fn` in its own transaction on a new connection; commits unless it throws. */
  async function inTransaction<T>(fn: (tx: pg.Client) => Promise<T>): Promise<T> {
    const tx = await pgClient();
    try {
      await tx.query('BEGIN');
      const result = await fn(tx);
      await tx.query('COMMIT');
      return result;
    } catch (err) {
      await tx.query('ROLLBACK');
      throw err;
    } finally {
      await tx.end();
    }
  }

  async function effects(): Promise<number> {
    const { rows } = await db.query(`SELECT count(*)::int AS n FROM "${schema}".effects`);
    return (rows[0] as { n: number }).n;
  }

  async function inboxed(consumer: string, id: string): Promise<boolean> {
    const { rows } = await db.query(`SELECT 1 FROM "${schema}".inbox WHERE consumer = $1 AND event_id = $2`, [consumer, id]);
    return rows.length === 1;
  }

  beforeAll(async () => {
    db = await pgClient();
    expect(await migrateInbox(PG_URL, { schema })).toEqual({ schema, table: 'inbox', deadLetterTable: 'inbox_dead_letter', created: true });
    await db.query(`CREATE TABLE "${schema}".effects (event_id text NOT NULL)`);
  });

  afterAll(async () => {
    await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await db.end();
  });

  it('migrates idempotently, from a URL or a client', async () => {
    expect((await migrateInbox(PG_URL, { schema })).created).toBe(false);
    expect((await migrateInbox(db, { schema })).created).toBe(false);
    const { rows } = await db.query(`SELECT to_regclass($1) AS inbox, to_regclass($2) AS dead`, [
      `"${schema}".inbox`,
      `"${schema}".inbox_dead_letter`,
    ]);
    expect(rows[0]).toEqual({ inbox: `${schema}.inbox`, dead: `${schema}.inbox_dead_letter` });
  });

  it('applies an event once and skips the same id the second time, without calling the handler', async () => {
    const id = uniqueName('evt');
    let calls = 0;
    const apply = async (tx: pg.Client): Promise<string> => {
      calls++;
      await tx.query(`INSERT INTO "${schema}".effects VALUES ($1)`, [id]);
      return 'done';
    };
    const before = await effects();
    expect(await inTransaction((tx) => inbox.processOnce(tx, 'svc', id, () => apply(tx)))).toEqual({ applied: true, value: 'done' });
    expect(await inTransaction((tx) => inbox.processOnce(tx, 'svc', id, () => apply(tx)))).toEqual({ applied: false });
    expect(calls).toBe(1);
    expect(await effects()).toBe(before + 1);
    // Another consumer has its own record of the same event.
    expect((await inTransaction((tx) => inbox.processOnce(tx, 'other', id, () => apply(tx)))).applied).toBe(true);
  });

  it('loses the inbox row with the rolled-back transaction when the handler throws, so a retry applies', async () => {
    const id = uniqueName('evt');
    const before = await effects();
    await expect(
      inTransaction((tx) =>
        inbox.processOnce(tx, 'svc', id, async () => {
          await tx.query(`INSERT INTO "${schema}".effects VALUES ($1)`, [id]);
          throw new Error('handler broke');
        }),
      ),
    ).rejects.toThrow('handler broke');
    expect(await inboxed('svc', id)).toBe(false);
    expect(await effects()).toBe(before);
    const retry = await inTransaction((tx) =>
      inbox.processOnce(tx, 'svc', id, async () => {
        await tx.query(`INSERT INTO "${schema}".effects VALUES ($1)`, [id]);
      }),
    );
    expect(retry.applied).toBe(true);
    expect(await inboxed('svc', id)).toBe(true);
    expect(await effects()).toBe(before + 1);
  });

  it('applies once when two transactions process one id concurrently: the second waits on the key, then skips', async () => {
    const id = uniqueName('evt');
    const before = await effects();
    const a = await pgClient();
    const b = await pgClient();
    try {
      const { rows: pid } = await b.query('SELECT pg_backend_pid() AS pid');
      await a.query('BEGIN');
      await b.query('BEGIN');
      let calls = 0;
      const apply = (tx: pg.Client) => async (): Promise<void> => {
        calls++;
        await tx.query(`INSERT INTO "${schema}".effects VALUES ($1)`, [id]);
      };
      expect(await inbox.processOnce(a, 'svc', id, apply(a))).toEqual({ applied: true, value: undefined });
      let settled = false;
      const second = inbox.processOnce(b, 'svc', id, apply(b)).finally(() => (settled = true));
      // The second insert blocks on the first transaction's uncommitted primary key.
      await new Promise((r) => setTimeout(r, 500));
      expect(settled).toBe(false);
      const { rows } = await db.query(`SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND pid = $1`, [pid[0]!.pid]);
      expect((rows[0] as { n: number }).n).toBe(1);
      await a.query('COMMIT');
      expect(await second).toEqual({ applied: false });
      await b.query('COMMIT');
      expect(calls).toBe(1);
      expect(await effects()).toBe(before + 1);
    } finally {
      await a.end();
      await b.end();
    }
  });

  it('lets the waiting transaction apply the event when the first one rolls back', async () => {
    const id = uniqueName('evt');
    const a = await pgClient();
    const b = await pgClient();
    try {
      await a.query('BEGIN');
      await b.query('BEGIN');
      expect((await inbox.processOnce(a, 'svc', id, async () => undefined)).applied).toBe(true);
      const second = inbox.processOnce(b, 'svc', id, async () => 'mine');
      await new Promise((r) => setTimeout(r, 300));
      await a.query('ROLLBACK');
      expect(await second).toEqual({ applied: true, value: 'mine' });
      await b.query('COMMIT');
      expect(await inboxed('svc', id)).toBe(true);
    } finally {
      await a.end();
      await b.end();
    }
  });

  it('joins a postgres.js transaction too', async () => {
    const sql = postgres(PG_URL, { max: 1, onnotice: () => undefined });
    try {
      const id = uniqueName('evt');
      const outcome = await sql.begin((tx) =>
        inbox.processOnce(tx, 'svc', id, async () => {
          await tx.unsafe(`INSERT INTO "${schema}".effects VALUES ($1)`, [id]);
          return 1;
        }),
      );
      expect(outcome).toEqual({ applied: true, value: 1 });
      expect(await sql.begin((tx) => inbox.processOnce(tx, 'svc', id, async () => 2))).toEqual({ applied: false });
      await expect(inbox.processOnce(sql, 'svc', uniqueName('evt'), async () => 3)).rejects.toMatchObject({ code: 'TRANSACTION_REQUIRED' });
    } finally {
      await sql.end();
    }
  });

  it('refuses a pool, which would run the inbox insert outside the caller transaction', async () => {
    const pool = new pg.Pool({ connectionString: PG_URL });
    let called = false;
    try {
      await expect(
        inbox.processOnce(pool, 'svc', uniqueName('evt'), async () => {
          called = true;
        }),
      ).rejects.toMatchObject({ code: 'TRANSACTION_REQUIRED', message: expect.stringMatching(/not the pool/) });
      expect(called).toBe(false);
    } finally {
      await pool.end();
    }
  });

  it('refuses a schema or table name that is not a plain lowercase identifier, naming the option', async () => {
    expect(() => new PostgresInbox({ schema: 'Bad-Schema' })).toThrow(/option 'schema' must be a lowercase SQL identifier/);
    expect(() => new PostgresInbox({ table: 'inbox"; DROP TABLE x; --' })).toThrow(/option 'table'/);
    expect(() => new PostgresInbox({ table: 'same', deadLetterTable: 'same' })).toThrow(/'deadLetterTable' must differ/);
    await expect(migrateInbox(PG_URL, { schema: 'x y' })).rejects.toMatchObject({ code: 'CONFIG_INVALID', details: { option: 'schema' } });
  });

  it('says to migrate when the inbox table is missing', async () => {
    const missing = new PostgresInbox({ schema: uniqueName('nowhere') });
    await expect(inTransaction((tx) => missing.processOnce(tx, 'svc', 'e1', async () => undefined))).rejects.toMatchObject({
      code: 'NOT_MIGRATED',
      message: expect.stringMatching(/inbox table .* does not exist; run migrateInbox\(\) first/),
    });
  });

  it('records a dead letter with its inbox row, once', async () => {
    const id = uniqueName('evt');
    const letter = { eventId: id, topic: 't', position: '0:1', eventType: 'x', dataschema: null, reason: 'no handler', data: '{}' };
    expect(await inTransaction((tx) => inbox.deadLetter(tx, 'svc', letter))).toBe(true);
    expect(await inTransaction((tx) => inbox.deadLetter(tx, 'svc', letter))).toBe(false);
    expect(await inboxed('svc', id)).toBe(true);
    const { rows } = await db.query(`SELECT reason, position FROM "${schema}".inbox_dead_letter WHERE event_id = $1`, [id]);
    expect(rows).toEqual([{ reason: 'no handler', position: '0:1' }]);
  });

  it('prunes only ids older than the retention, optionally of one consumer', async () => {
    const old = [uniqueName('old'), uniqueName('old'), uniqueName('old')];
    const fresh = uniqueName('fresh');
    await db.query(
      `INSERT INTO "${schema}".inbox (consumer, event_id, processed_at)
       SELECT 'pruned', id, now() - interval '2 days' FROM unnest($1::text[]) id`,
      [old.slice(0, 2)],
    );
    await db.query(`INSERT INTO "${schema}".inbox (consumer, event_id, processed_at) VALUES ('kept', $1, now() - interval '2 days')`, [
      old[2],
    ]);
    await db.query(`INSERT INTO "${schema}".inbox (consumer, event_id) VALUES ('pruned', $1)`, [fresh]);
    const day = 24 * 3600 * 1000;
    expect(await pruneInbox(PG_URL, { schema, olderThanMs: day, consumer: 'pruned', batchSize: 1 })).toBe(2);
    expect(await inboxed('pruned', fresh)).toBe(true);
    expect(await inboxed('kept', old[2]!)).toBe(true);
    expect(await pruneInbox(db, { schema, olderThanMs: day })).toBe(1);
    expect(await inboxed('kept', old[2]!)).toBe(false);
    await expect(pruneInbox(db, { schema, olderThanMs: -1 })).rejects.toThrow(/option 'olderThanMs'/);
  });
});
