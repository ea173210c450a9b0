import mysql from 'mysql2/promise';
import mysqlCallback from 'mysql2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateMysql } from '../../src/mysql/migrate.js';
import { MysqlOutbox } from '../../src/mysql/outbox.js';
import { mysqlStore } from '../../src/mysql/store.js';
import { storeFor } from '../../src/store/store-url.js';
import { orderContracts, orderPlaced } from '../support/contracts.js';
import { uniqueName } from '../support/services.js';
import { MYSQL_URL, mysqlConnection, rows } from './mysql-support.js';

const schema = uniqueName('herald_outbox_test');
const contracts = orderContracts();
const outbox = new MysqlOutbox({ contracts, source: '/test', schema });
let db: mysql.Connection;

const count = async (): Promise<number> => Number((await rows(db, `SELECT COUNT(*) AS n FROM \`${schema}\`.outbox`))[0]!.n);

beforeAll(async () => {
  db = await mysqlConnection();
  expect(await migrateMysql(MYSQL_URL, { schema, buckets: 8 })).toEqual({ schema, buckets: 8, created: true });
});
afterAll(async () => {
  await db.query(`DROP DATABASE IF EXISTS \`${schema}\``);
  await db.end();
});

describe('migrateMysql', () => {
  it('is idempotent: a second run changes nothing and reports it', async () => {
    expect(await migrateMysql(MYSQL_URL, { schema })).toEqual({ schema, buckets: 8, created: false });
    expect((await rows(db, `SELECT COUNT(*) AS n FROM \`${schema}\`.relay_lease`))[0]!.n).toBe('8');
    expect((await rows(db, `SELECT COUNT(*) AS n FROM \`${schema}\`.key_lock`))[0]!.n).toBe('4096');
    expect(await rows(db, `SELECT \`key\`, value FROM \`${schema}\`.meta ORDER BY \`key\``)).toEqual([
      { key: 'buckets', value: '8' },
      { key: 'schema_version', value: '1' },
    ]);
  });

  it('runs concurrently without failing (serialised by GET_LOCK)', async () => {
    const results = await Promise.all([migrateMysql(MYSQL_URL, { schema }), migrateMysql(MYSQL_URL, { schema })]);
    expect(results.map((r) => r.created)).toEqual([false, false]);
  });

  it('refuses to change the bucket count of an existing outbox', async () => {
    await expect(migrateMysql(MYSQL_URL, { schema, buckets: 16 })).rejects.toThrow(
      `the outbox in database '${schema}' has 8 buckets; the bucket count cannot change (got --buckets 16)`,
    );
  });

  it('refuses a database name that is not a plain identifier, before connecting', async () => {
    await expect(migrateMysql(MYSQL_URL, { schema: 'x`; DROP DATABASE y; --' })).rejects.toThrow(
      /option 'schema' must be a lowercase SQL identifier/,
    );
    expect(() => new MysqlOutbox({ contracts, source: '/t', schema: 'Bad-Name' })).toThrow(/option 'schema'/);
    expect(() => mysqlStore(MYSQL_URL, { schema: 'a b' })).toThrow(/option 'schema'/);
  });

  it('names the server without its password when it cannot connect', async () => {
    const err = (await migrateMysql('mysql://herald:s3cret-pw@127.0.0.1:1/app', { schema }).catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(
      /cannot connect to mysql at 127\.0\.0\.1:1 \(mysql:\/\/herald:\*\*\*@127\.0\.0\.1:1\/app\).*is the server running/,
    );
    expect(JSON.stringify({ message: err.message, stack: err.stack, details: (err as { details?: unknown }).details })).not.toContain(
      's3cret-pw',
    );
  });

  it('is what storeFor returns for mysql:// and mariadb:// URLs', async () => {
    for (const url of [MYSQL_URL, MYSQL_URL.replace('mysql:', 'mariadb:')]) {
      const store = await storeFor(url, { schema });
      expect(store.kind).toBe('mysql');
      expect(store.capabilities).toEqual({ sources: ['polling'], eagerDispatch: false, inbox: true });
      expect(await store.migrate()).toEqual({ schema, buckets: 8, created: false });
    }
  });
});

describe('MysqlOutbox with a mysql2/promise connection', () => {
  it('writes the event with the transaction that commits, time as the exact text', async () => {
    const before = await count();
    await db.beginTransaction();
    const e = await outbox.append(db, 'orders.order-placed', orderPlaced('c-1'));
    await db.commit();
    expect(await count()).toBe(before + 1);
    const [row] = await rows(
      db,
      `SELECT event_id, topic, partition_key, type, source, dataschema, time, CAST(data AS CHAR) AS data, bucket FROM \`${schema}\`.outbox WHERE event_id = ?`,
      [e.id],
    );
    expect(row).toMatchObject({
      event_id: e.id,
      topic: 'orders.order-placed.v1',
      partition_key: 'c-1',
      type: 'orders.order-placed',
      source: '/test',
      dataschema: 'urn:herald:contract:orders.order-placed:1.0.0',
      time: e.time,
    });
    expect(JSON.parse(row!.data as string)).toEqual(e.data);
    expect(Number(row!.bucket)).toBeGreaterThanOrEqual(0);
    expect(Number(row!.bucket)).toBeLessThan(8);
  });

  it('leaves no event when the transaction rolls back', async () => {
    const before = await count();
    await db.beginTransaction();
    await outbox.appendMany(db, [
      { contract: 'orders.order-placed', data: orderPlaced('c-2') },
      { contract: 'orders.order-placed', data: orderPlaced('c-3') },
    ]);
    await db.rollback();
    expect(await count()).toBe(before);
  });

  it('sends no SQL at all when one payload of a batch is invalid', async () => {
    const before = await count();
    const sent: string[] = [];
    // A proxy that records every statement, and is still recognised as a mysql2 connection.
    const spy = new Proxy(db, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver) as unknown;
        if ((prop === 'execute' || prop === 'query') && typeof v === 'function') {
          return (sql: string, ...rest: unknown[]) => {
            sent.push(sql);
            return (v as (...a: unknown[]) => unknown).call(target, sql, ...rest);
          };
        }
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    await db.beginTransaction();
    await expect(
      outbox.appendMany(spy, [
        { contract: 'orders.order-placed', data: orderPlaced('c-4') },
        { contract: 'orders.order-placed', data: orderPlaced('c-5', 0, { total: -5 }) },
      ]),
    ).rejects.toThrow("event for contract 'orders.order-placed' version 1.0.0 is invalid at /total: must be >= 0");
    await db.commit();
    expect(sent).toEqual([]);
    expect(await count()).toBe(before);
    // The spy does see the statements of a valid append, so the empty list above means something.
    await db.beginTransaction();
    await outbox.append(spy, 'orders.order-placed', orderPlaced('c-6'));
    await db.rollback();
    // One statement: the connection is known to be in a transaction, so lock and insert are one.
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatch(/^INSERT INTO .* FROM `[a-z0-9_]+`\.`key_lock` WHERE slot = \? FOR UPDATE$/s);
  });

  it('keeps the order of a multi-event append in the ids', async () => {
    await db.beginTransaction();
    const events = await outbox.appendMany(
      db,
      Array.from({ length: 20 }, (_, i) => ({ contract: 'orders.order-placed', data: orderPlaced(`k-${i % 3}`, i) })),
    );
    await db.commit();
    const got = await rows(db, `SELECT event_id FROM \`${schema}\`.outbox WHERE event_id IN (?) ORDER BY id`, [events.map((e) => e.id)]);
    expect(got.map((r) => r.event_id)).toEqual(events.map((e) => e.id));
  });

  it('refuses a pool by name, saying to pass a connection from getConnection()', async () => {
    const pool = mysql.createPool({ uri: MYSQL_URL.replace(/\/[^/]*$/, '/') });
    await expect(outbox.append(pool, 'orders.order-placed', orderPlaced('c'))).rejects.toThrow(
      /not the Pool.*|await pool\.getConnection\(\)/,
    );
    await expect(outbox.append(pool, 'orders.order-placed', orderPlaced('c'))).rejects.toMatchObject({ code: 'TRANSACTION_REQUIRED' });
    const callbackPool = mysqlCallback.createPool({ uri: MYSQL_URL.replace(/\/[^/]*$/, '/') });
    await expect(outbox.append(callbackPool, 'orders.order-placed', orderPlaced('c'))).rejects.toThrow(/pool\.getConnection\(\)/);
    await pool.end();
    await new Promise((r) => callbackPool.end(r));
  });

  it('refuses a connection in autocommit mode and writes nothing', async () => {
    const before = await count();
    await expect(outbox.append(db, 'orders.order-placed', orderPlaced('auto'))).rejects.toMatchObject({
      code: 'TRANSACTION_REQUIRED',
      message: expect.stringMatching(/not inside a transaction \(autocommit\): call await conn\.beginTransaction\(\) first/) as unknown,
    });
    expect(await count()).toBe(before);
    expect(await rows(db, `SELECT 1 FROM \`${schema}\`.outbox WHERE partition_key = 'auto'`)).toEqual([]);
  });

  it('accepts SET autocommit = 0 (a transaction starts with the first statement) through the verified two-statement path', async () => {
    const c = await mysqlConnection();
    try {
      const before = await count();
      await c.query('SET autocommit = 0');
      await outbox.append(c, 'orders.order-placed', orderPlaced('noauto'));
      await c.query('ROLLBACK');
      expect(await count()).toBe(before);
      await outbox.append(c, 'orders.order-placed', orderPlaced('noauto'));
      await c.query('COMMIT');
      expect(await count()).toBe(before + 1);
    } finally {
      await c.end();
    }
  });

  it('refuses something that is not a mysql2 handle, listing what it accepts', async () => {
    await expect(outbox.append({ query: () => undefined }, 'orders.order-placed', orderPlaced('x'))).rejects.toThrow(
      /expected a transaction: a mysql2 connection inside beginTransaction\(\)/,
    );
  });

  it('says to run migrate when the tables are missing', async () => {
    const other = new MysqlOutbox({ contracts, source: '/test', schema: uniqueName('missing') });
    await db.beginTransaction();
    await expect(other.append(db, 'orders.order-placed', orderPlaced('c'))).rejects.toThrow(/run 'herald migrate' first/);
    await db.rollback();
  });

  it('serialises two transactions on the same key so ids follow commit order', async () => {
    const second = await mysqlConnection();
    try {
      // The second transaction starts (takes its snapshot) first, then the first one appends.
      await second.beginTransaction();
      await db.beginTransaction();
      await outbox.append(db, 'orders.order-placed', orderPlaced('same-key', 1));
      let secondDone = false;
      const pending = outbox.append(second, 'orders.order-placed', orderPlaced('same-key', 2)).then((e) => {
        secondDone = true;
        return e;
      });
      await new Promise((r) => setTimeout(r, 400));
      // It must wait for the first transaction: it cannot take an id before the first commits.
      expect(secondDone).toBe(false);
      await db.commit();
      await pending;
      await second.commit();
      const got = await rows(
        db,
        `SELECT JSON_UNQUOTE(JSON_EXTRACT(data, '$.lines[0].sku')) AS sku FROM \`${schema}\`.outbox WHERE partition_key = 'same-key' ORDER BY id`,
      );
      expect(got.map((r) => r.sku)).toEqual(['seq-1', 'seq-2']);
    } finally {
      await second.end();
    }
  });

  it('serialises the same key under READ COMMITTED too, with the two-statement form of appendMany (the n = n UPDATE keeps its row locks)', async () => {
    const first = await mysqlConnection();
    const second = await mysqlConnection();
    try {
      for (const c of [first, second]) await c.query('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED');
      await first.beginTransaction();
      await outbox.appendMany(first, [
        { contract: 'orders.order-placed', data: orderPlaced('rc-key', 1) },
        { contract: 'orders.order-placed', data: orderPlaced('rc-other', 1) },
      ]);
      await second.beginTransaction();
      let secondDone = false;
      const pending = outbox
        .appendMany(second, [
          { contract: 'orders.order-placed', data: orderPlaced('rc-key', 2) },
          { contract: 'orders.order-placed', data: orderPlaced('rc-key', 3) },
        ])
        .then(() => (secondDone = true));
      await new Promise((r) => setTimeout(r, 400));
      expect(secondDone).toBe(false);
      await first.commit();
      await pending;
      await second.commit();
      const got = await rows(
        db,
        `SELECT JSON_UNQUOTE(JSON_EXTRACT(data, '$.lines[0].sku')) AS sku FROM \`${schema}\`.outbox WHERE partition_key = 'rc-key' ORDER BY id`,
      );
      expect(got.map((r) => r.sku)).toEqual(['seq-1', 'seq-2', 'seq-3']);
    } finally {
      await first.end();
      await second.end();
    }
  });

  it('does not make transactions on different keys wait for each other', async () => {
    const second = await mysqlConnection();
    try {
      await db.beginTransaction();
      await outbox.append(db, 'orders.order-placed', orderPlaced('key-a'));
      await second.beginTransaction();
      await outbox.append(second, 'orders.order-placed', orderPlaced('key-b'));
      await second.commit();
      await db.commit();
    } finally {
      await second.end();
    }
  });
});

describe('MysqlOutbox with a callback-API connection and a pool connection', () => {
  it('writes with a callback connection inside beginTransaction, and refuses it in autocommit', async () => {
    const conn = mysqlCallback.createConnection({ uri: MYSQL_URL.replace(/\/[^/]*$/, '/') });
    try {
      const before = await count();
      await expect(outbox.append(conn, 'orders.order-placed', orderPlaced('cb-0'))).rejects.toMatchObject({ code: 'TRANSACTION_REQUIRED' });
      await new Promise<void>((resolve, reject) => conn.beginTransaction((err) => (err ? reject(err) : resolve())));
      await outbox.append(conn, 'orders.order-placed', orderPlaced('cb-1'));
      await new Promise<void>((resolve, reject) => conn.commit((err) => (err ? reject(err) : resolve())));
      expect(await count()).toBe(before + 1);
    } finally {
      await new Promise((r) => conn.end(r));
    }
  });

  it('writes with await pool.getConnection() after beginTransaction', async () => {
    const pool = mysql.createPool({ uri: MYSQL_URL.replace(/\/[^/]*$/, '/'), connectionLimit: 2 });
    const conn = await pool.getConnection();
    try {
      const before = await count();
      await conn.beginTransaction();
      await outbox.append(conn, 'orders.order-placed', orderPlaced('pool-1'));
      await conn.commit();
      expect(await count()).toBe(before + 1);
    } finally {
      conn.release();
      await pool.end();
    }
  });
});
