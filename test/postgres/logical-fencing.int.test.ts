import { afterAll, describe, expect, it } from 'vitest';
import { ErrorCodes, isHeraldError } from '../../src/errors.js';
import { LogicalSource } from '../../src/postgres/logical-source.js';
import { migratePostgres } from '../../src/postgres/migrate.js';
import { PG_URL, pgClient, uniqueName } from '../support/services.js';

// Only the slot this file creates is touched (and dropped); the shared cluster is never restarted.
const schema = uniqueName('logical_fence');
const slot = `${schema}_relay`;
const sources: LogicalSource[] = [];

afterAll(async () => {
  await Promise.all(sources.map((s) => s.close()));
  const c = await pgClient();
  await c.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1', [slot]).catch(() => undefined);
  await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await c.end();
});

describe('LogicalSource fencing', () => {
  it('gives the slot of this outbox one producer identity, and confirms only while it streams the slot itself', async () => {
    await migratePostgres(PG_URL, { schema, logical: {} });
    const first = new LogicalSource({ database: PG_URL, schema });
    const second = new LogicalSource({ database: PG_URL, schema });
    sources.push(first, second);
    await first.start();
    await second.start();
    const identity = first.fencing()?.identity;
    expect(identity).toMatch(new RegExp(`^herald-slot-${slot}-[0-9a-f-]{36}$`));
    expect(second.fencing()).toEqual({ identity, previous: [] });

    await first.next(10); // opens the stream
    await expect(first.confirmLease()).resolves.toBeUndefined();
    await expect(second.confirmLease()).rejects.toSatisfy((e: unknown) => isHeraldError(e, ErrorCodes.LEASE_LOST) && e.retryable);
  });
});
