import { afterAll, describe, expect, it, vi } from 'vitest';
import { LogicalSource } from '../../src/postgres/logical-source.js';
import { migratePostgres } from '../../src/postgres/migrate.js';
import { PostgresOutbox } from '../../src/postgres/outbox.js';
import type { RelayRecord } from '../../src/relay/source.js';
import { orderContracts, orderPlaced } from '../support/contracts.js';
import { PG_URL, pgClient, uniqueName, waitFor } from '../support/services.js';

// Only the slot this file creates is touched (and dropped); the shared cluster is never restarted.
const schema = uniqueName('long_slot');
// 63 bytes, PostgreSQL's longest identifier: 'herald_delivered_' + slot used to be the statement name.
const slot = `${schema}_${'s'.repeat(62 - schema.length)}`;
const sources: LogicalSource[] = [];

afterAll(async () => {
  await Promise.all(sources.map((s) => s.close()));
  const c = await pgClient();
  await c.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1', [slot]).catch(() => undefined);
  await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await c.end();
});

describe('LogicalSource with the longest slot name', () => {
  it('records deliveries without a prepared-statement name over 63 bytes (pg would warn on stderr)', async () => {
    expect(slot).toHaveLength(63);
    await migratePostgres(PG_URL, { schema, logical: { slot } });
    const source = new LogicalSource({ database: PG_URL, schema, slot });
    sources.push(source);
    await source.start();
    const outbox = new PostgresOutbox({ contracts: orderContracts('long-slot.topic'), source: '/long-slot-test', schema });
    const w = await pgClient();
    await outbox.appendMany(w, [{ contract: 'orders.order-placed', data: orderPlaced('k1') }]);
    await w.end();

    const warnings = vi.spyOn(console, 'error');
    try {
      let batch: RelayRecord[] = [];
      for (let i = 0; i < 50 && batch.length === 0; i++) {
        batch = await source.next(10);
        if (batch.length === 0) await source.waitForWork(200, new AbortController().signal);
      }
      expect(batch).toHaveLength(1);
      await source.delivered(batch);
      const c = await pgClient();
      const remaining = async (): Promise<number> => (await c.query(`SELECT count(*)::int AS n FROM "${schema}".outbox`)).rows[0].n;
      expect(await waitFor(async () => (await remaining()) === 0, 10_000), 'the delivered row is deleted').toBe(true);
      await c.end();
      expect(warnings.mock.calls.flat().join(' ')).not.toMatch(/63 characters/);
    } finally {
      warnings.mockRestore();
    }
  });
});
