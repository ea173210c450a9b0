import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes, isHeraldError } from '../../src/errors.js';
import { migratePostgres } from '../../src/postgres/migrate.js';
import { PostgresOutbox } from '../../src/postgres/outbox.js';
import { ambientWriter, currentTransaction, withTransaction } from '../../src/store/ambient-transaction.js';
import { InMemoryOutbox } from '../../src/testing/index.js';
import { PG_URL, uniqueName } from '../support/services.js';
import { orderContracts, orderPlaced } from '../support/contracts.js';

const CONTRACT = 'orders.order-placed';
const schema = uniqueName('ambient_test');
const pool = new pg.Pool({ connectionString: PG_URL, max: 4 });
const events = ambientWriter(new PostgresOutbox({ contracts: orderContracts(), source: '/ambient', schema }));

// What a service's code deep in a call chain looks like: no tx parameter.
async function placeOrder(customerId: string): Promise<string> {
  await new Promise((r) => setTimeout(r, 1)); // an await in between must not lose the transaction
  return (await events.append(CONTRACT, orderPlaced(customerId))).id;
}

async function inTransaction<T>(fn: (client: pg.PoolClient) => Promise<T>, commit: boolean): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query(commit ? 'COMMIT' : 'ROLLBACK');
    return result;
  } finally {
    client.release();
  }
}

const stored = async (): Promise<string[]> =>
  (await pool.query(`SELECT event_id FROM "${schema}".outbox ORDER BY id`)).rows.map((r: { event_id: string }) => r.event_id);

beforeAll(async () => {
  await migratePostgres(PG_URL, { schema });
});
afterAll(async () => {
  await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await pool.end();
});

describe('withTransaction / ambientWriter', () => {
  it('appends with the ambient PostgreSQL transaction: kept on commit, gone on rollback, concurrent ones apart', async () => {
    const [kept, alsoKept, dropped] = await Promise.all([
      inTransaction((c) => withTransaction(c, () => placeOrder('a')), true),
      inTransaction((c) => withTransaction(c, () => placeOrder('b')), true),
      inTransaction((c) => withTransaction(c, () => placeOrder('c')), false),
    ]);
    const ids = await stored();
    expect(ids).toEqual(expect.arrayContaining([kept, alsoKept]));
    expect(ids).not.toContain(dropped);
    expect(ids).toHaveLength(2);
  });

  it('refuses an append outside withTransaction, and a pool given as the ambient transaction', async () => {
    const outside = await placeOrder('x').catch((e: unknown) => e as Error);
    expect(isHeraldError(outside, ErrorCodes.TRANSACTION_REQUIRED)).toBe(true);
    expect((outside as Error).message).toContain('withTransaction(tx, () => ...)');
    const pooled = await withTransaction(pool, () => placeOrder('y')).catch((e: unknown) => e as Error);
    expect(isHeraldError(pooled, ErrorCodes.TRANSACTION_REQUIRED)).toBe(true);
    expect(() => currentTransaction()).toThrow(/no ambient transaction/);
    expect(await stored()).toHaveLength(2);
  });

  it('works with the in-memory outbox of herald/testing too', async () => {
    const outbox = new InMemoryOutbox({ contracts: orderContracts(), source: '/ambient' });
    const writer = ambientWriter(outbox);
    const id = await outbox.transaction((tx) => withTransaction(tx, async () => (await writer.append(CONTRACT, orderPlaced('m'))).id));
    expect(outbox.pending.map((e) => e.id)).toEqual([id]);
  });
});
