import postgres from 'postgres';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migratePostgres } from '../../src/postgres/migrate.js';
import { PostgresOutbox } from '../../src/postgres/outbox.js';
import { PG_URL, pgClient, uniqueName } from '../support/services.js';
import { orderContracts, orderPlaced } from '../support/contracts.js';

const schema = uniqueName('outbox_test');
const contracts = orderContracts();
const outbox = new PostgresOutbox({ contracts, source: '/test', schema });
let db: pg.Client;

const count = async (): Promise<number> => Number((await db.query(`SELECT count(*) FROM "${schema}".outbox`)).rows[0].count);

beforeAll(async () => {
  db = await pgClient();
  await migratePostgres(PG_URL, { schema, buckets: 8 });
});
afterAll(async () => {
  await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await db.end();
});

describe('migratePostgres', () => {
  it('is idempotent: a second run changes nothing and reports it', async () => {
    const again = await migratePostgres(PG_URL, { schema });
    expect(again).toEqual({ schema, buckets: 8, created: false, notify: true });
    const { rows } = await db.query(`SELECT count(*)::int AS n FROM "${schema}".relay_lease`);
    expect(rows[0].n).toBe(8);
  });

  it('refuses to change the bucket count of an existing outbox', async () => {
    await expect(migratePostgres(PG_URL, { schema, buckets: 16 })).rejects.toThrow(/has 8 buckets; the bucket count cannot change/);
  });

  it('refuses a schema name that is not a plain identifier', async () => {
    await expect(migratePostgres(PG_URL, { schema: 'x"; DROP TABLE y; --' })).rejects.toThrow(
      /option 'schema' must be a lowercase SQL identifier/,
    );
  });

  it('names the server without its password when it cannot connect', async () => {
    await expect(migratePostgres('postgres://herald:s3cret-pw@127.0.0.1:1/db', { schema })).rejects.toThrow(
      /cannot connect to postgresql at postgres:\/\/herald:\*\*\*@127.0.0.1:1\/db.*is the server running/,
    );
    await expect(migratePostgres('postgres://herald:s3cret-pw@127.0.0.1:1/db', { schema })).rejects.not.toThrow(/s3cret-pw/);
  });
});

describe('PostgresOutbox with node-postgres', () => {
  it('writes the event with the transaction that commits', async () => {
    const before = await count();
    await db.query('BEGIN');
    const e = await outbox.append(db, 'orders.order-placed', orderPlaced('c-1'));
    await db.query('COMMIT');
    expect(await count()).toBe(before + 1);
    const { rows } = await db.query(
      `SELECT event_id::text, topic, partition_key, type, source, dataschema, data::text FROM "${schema}".outbox WHERE event_id = $1`,
      [e.id],
    );
    expect(rows[0]).toMatchObject({
      topic: 'orders.order-placed.v1',
      partition_key: 'c-1',
      type: 'orders.order-placed',
      source: '/test',
      dataschema: 'urn:herald:contract:orders.order-placed:1.0.0',
    });
    expect(JSON.parse(rows[0].data)).toEqual(e.data);
  });

  it('leaves no event when the transaction rolls back', async () => {
    const before = await count();
    await db.query('BEGIN');
    await outbox.appendMany(db, [
      { contract: 'orders.order-placed', data: orderPlaced('c-2') },
      { contract: 'orders.order-placed', data: orderPlaced('c-3') },
    ]);
    await db.query('ROLLBACK');
    expect(await count()).toBe(before);
  });

  it('writes nothing of a batch when one payload is invalid', async () => {
    const before = await count();
    await db.query('BEGIN');
    await expect(
      outbox.appendMany(db, [
        { contract: 'orders.order-placed', data: orderPlaced('c-4') },
        { contract: 'orders.order-placed', data: orderPlaced('c-5', 0, { total: -5 }) },
      ]),
    ).rejects.toThrow("event for contract 'orders.order-placed' version 1.0.0 is invalid at /total: must be >= 0");
    await db.query('COMMIT');
    expect(await count()).toBe(before);
  });

  it("refuses a NUL in the partition key before any SQL, so the caller's transaction goes on", async () => {
    const before = await count();
    await db.query('BEGIN');
    await expect(outbox.append(db, 'orders.order-placed', orderPlaced('c-\u0000-6'))).rejects.toThrow(
      "event attribute 'partitionkey' contains a NUL character (U+0000)",
    );
    // Nothing reached the server: the transaction is not aborted and can still commit work.
    await outbox.append(db, 'orders.order-placed', orderPlaced('c-6'));
    await db.query('COMMIT');
    expect(await count()).toBe(before + 1);
  });

  it('refuses, at append, an event over maxEventBytes, naming the limit, before any SQL', async () => {
    const before = await count();
    const small = new PostgresOutbox({ contracts, source: '/test', schema, maxEventBytes: 2_000 });
    await db.query('BEGIN');
    const big = orderPlaced('c-7', 0, { lines: [{ sku: 'x'.repeat(5_000), quantity: 1, unitPrice: 10 }] });
    await expect(small.append(db, 'orders.order-placed', big)).rejects.toThrow(
      /event for contract 'orders.order-placed' is \d+ bytes, over the limit of 2000 bytes \(maxEventBytes\)/,
    );
    // The default limit (1 MB, under Kafka's message.max.bytes) refuses a 5 MB event too.
    await expect(
      outbox.append(
        db,
        'orders.order-placed',
        orderPlaced('c-7', 0, { lines: [{ sku: 'x'.repeat(5_000_000), quantity: 1, unitPrice: 10 }] }),
      ),
    ).rejects.toThrow(/over the limit of 1000000 bytes/);
    await small.append(db, 'orders.order-placed', orderPlaced('c-7'));
    await db.query('COMMIT');
    expect(await count()).toBe(before + 1);
    expect(() => new PostgresOutbox({ contracts, source: '/test', schema, maxEventBytes: 0 })).toThrow(
      "option 'maxEventBytes' must be a positive integer, got 0",
    );
  });

  it('keeps the order of a multi-event append in the ids', async () => {
    await db.query('BEGIN');
    const events = await outbox.appendMany(
      db,
      Array.from({ length: 20 }, (_, i) => ({ contract: 'orders.order-placed', data: orderPlaced(`k-${i % 3}`, i) })),
    );
    await db.query('COMMIT');
    const { rows } = await db.query(`SELECT event_id::text AS id FROM "${schema}".outbox WHERE event_id = ANY($1::uuid[]) ORDER BY id`, [
      events.map((e) => e.id),
    ]);
    expect(rows.map((r) => r.id)).toEqual(events.map((e) => e.id));
  });

  it('refuses a pool, whose queries could run outside the transaction', async () => {
    const pool = new pg.Pool({ connectionString: PG_URL });
    await expect(outbox.append(pool, 'orders.order-placed', orderPlaced('c'))).rejects.toThrow(/pass the pg client that ran BEGIN/);
    await pool.end();
  });

  it('says to run migrate when the tables are missing', async () => {
    const other = new PostgresOutbox({ contracts, source: '/test', schema: uniqueName('missing') });
    await db.query('BEGIN');
    await expect(other.append(db, 'orders.order-placed', orderPlaced('c'))).rejects.toThrow(/run 'herald migrate' first/);
    await db.query('ROLLBACK');
  });

  it('serialises two transactions on the same key so ids follow commit order', async () => {
    const second = await pgClient();
    try {
      await db.query('BEGIN');
      await outbox.append(db, 'orders.order-placed', orderPlaced('same-key', 1));
      await second.query('BEGIN');
      // The second append must wait for the first transaction: it cannot take an id before it.
      let secondDone = false;
      const pending = outbox.append(second, 'orders.order-placed', orderPlaced('same-key', 2)).then((e) => {
        secondDone = true;
        return e;
      });
      await new Promise((r) => setTimeout(r, 300));
      expect(secondDone).toBe(false);
      await db.query('COMMIT');
      await pending;
      await second.query('COMMIT');
      const { rows } = await db.query(
        `SELECT data->'lines'->0->>'sku' AS sku FROM "${schema}".outbox WHERE partition_key = 'same-key' ORDER BY id`,
      );
      expect(rows.map((r) => r.sku)).toEqual(['seq-1', 'seq-2']);
    } finally {
      await second.end();
    }
  });

  it('does not make transactions on different keys wait for each other', async () => {
    const second = await pgClient();
    try {
      await db.query('BEGIN');
      await outbox.append(db, 'orders.order-placed', orderPlaced('key-a'));
      await second.query('BEGIN');
      await outbox.append(second, 'orders.order-placed', orderPlaced('key-b'));
      await second.query('COMMIT');
      await db.query('COMMIT');
    } finally {
      await second.end();
    }
  });
});

describe('PostgresOutbox with postgres.js', () => {
  const sql = postgres(PG_URL, { max: 2, onnotice: () => undefined });
  afterAll(() => sql.end());

  it('writes the event inside sql.begin and commits with it', async () => {
    const before = await count();
    const e = await sql.begin((tx) => outbox.append(tx, 'orders.order-placed', orderPlaced('pgjs-1')));
    expect(await count()).toBe(before + 1);
    const rows = await sql.unsafe(`SELECT count(*)::int AS n FROM "${schema}".outbox WHERE event_id = $1`, [e.id]);
    expect(rows[0]!.n).toBe(1);
  });

  it('leaves no event when sql.begin rolls back', async () => {
    const before = await count();
    await expect(
      sql.begin(async (tx) => {
        await outbox.append(tx, 'orders.order-placed', orderPlaced('pgjs-2'));
        throw new Error('payment declined');
      }),
    ).rejects.toThrow('payment declined');
    expect(await count()).toBe(before);
  });

  it('refuses the root sql, which is not a transaction', async () => {
    await expect(outbox.append(sql, 'orders.order-placed', orderPlaced('pgjs-3'))).rejects.toThrow(/not the root 'sql'/);
  });
});
