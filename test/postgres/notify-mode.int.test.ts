import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migratePostgres, postgresOutboxStatus } from '../../src/postgres/migrate.js';
import { PostgresOutbox } from '../../src/postgres/outbox.js';
import { PollingSource } from '../../src/postgres/polling-source.js';
import { Relay } from '../../src/relay/relay.js';
import { RecordingPublisher } from '../../src/testing/recording-publisher.js';
import { PG_URL, pgClient, uniqueName, waitFor } from '../support/services.js';
import { orderContracts, orderPlaced } from '../support/contracts.js';

const schemas: string[] = [];
let db: pg.Client;

/** A fresh schema name, dropped after the file. */
function freshSchema(): string {
  const s = uniqueName('notify_mode');
  schemas.push(s);
  return s;
}

/** What the catalog and the meta table say about the outbox's NOTIFY trigger. */
async function triggerState(schema: string): Promise<{ trigger: string | null; meta: string | null }> {
  const { rows } = await db.query(
    `SELECT (SELECT tgenabled::text FROM pg_trigger WHERE tgrelid = to_regclass($1) AND tgname = 'outbox_notify') AS trigger,
            (SELECT value FROM "${schema}".meta WHERE key = 'notify') AS meta`,
    [`"${schema}"."outbox"`],
  );
  return rows[0] as { trigger: string | null; meta: string | null };
}

/** Commits one outbox row and returns the notifications a listener on the outbox channel got within 300 ms. */
async function notificationsOfOneAppend(schema: string): Promise<number> {
  const listener = await pgClient();
  let received = 0;
  listener.on('notification', () => received++);
  await listener.query(`LISTEN "${schema}_outbox"`);
  const outbox = new PostgresOutbox({ contracts: orderContracts(), source: '/test', schema });
  await db.query('BEGIN');
  await outbox.append(db, 'orders.order-placed', orderPlaced('c-notify'));
  await db.query('COMMIT');
  await new Promise((r) => setTimeout(r, 300));
  await listener.end();
  return received;
}

beforeAll(async () => {
  db = await pgClient();
});
afterAll(async () => {
  for (const s of schemas) await db.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
  await db.end();
});

describe('migratePostgres and the NOTIFY trigger', () => {
  it('creates a new outbox with the trigger and records it', async () => {
    const schema = freshSchema();
    expect(await migratePostgres(PG_URL, { schema, buckets: 4 })).toMatchObject({ created: true, notify: true });
    expect(await triggerState(schema)).toEqual({ trigger: 'O', meta: 'on' });
    expect(await notificationsOfOneAppend(schema)).toBe(1);
  });

  it('drops the trigger with notify: false, records it, keeps it on the next plain migrate, and puts it back with notify: true', async () => {
    const schema = freshSchema();
    expect(await migratePostgres(PG_URL, { schema, buckets: 4, notify: false })).toMatchObject({ created: true, notify: false });
    expect(await triggerState(schema)).toEqual({ trigger: null, meta: 'off' });
    expect(await notificationsOfOneAppend(schema)).toBe(0);
    expect((await postgresOutboxStatus(PG_URL, { schema })).notify).toBe(false);

    expect(await migratePostgres(PG_URL, { schema })).toMatchObject({ created: false, notify: false });
    expect(await triggerState(schema)).toEqual({ trigger: null, meta: 'off' });

    expect(await migratePostgres(PG_URL, { schema, notify: true })).toMatchObject({ created: false, notify: true });
    expect(await triggerState(schema)).toEqual({ trigger: 'O', meta: 'on' });
    expect(await notificationsOfOneAppend(schema)).toBe(1);
    expect((await postgresOutboxStatus(PG_URL, { schema })).notify).toBe(true);

    expect(await migratePostgres(PG_URL, { schema })).toMatchObject({ notify: true });
    expect(await triggerState(schema)).toEqual({ trigger: 'O', meta: 'on' });
  });

  it('keeps the state of an outbox migrated before the meta row existed (a trigger disabled by an older logical migrate)', async () => {
    const schema = freshSchema();
    await migratePostgres(PG_URL, { schema, buckets: 4 });
    await db.query(`DELETE FROM "${schema}".meta WHERE key = 'notify'`);
    await db.query(`ALTER TABLE "${schema}".outbox DISABLE TRIGGER outbox_notify`);
    expect(await migratePostgres(PG_URL, { schema })).toMatchObject({ notify: false });
    expect(await triggerState(schema)).toEqual({ trigger: null, meta: 'off' });
  });
});

describe('a polling relay on an outbox without NOTIFY trigger', () => {
  it('delivers an appended event by its idle poll, long before its poll interval', async () => {
    const schema = freshSchema();
    await migratePostgres(PG_URL, { schema, buckets: 4, notify: false });
    const source = new PollingSource({ database: PG_URL, schema, idlePollMs: 25 });
    const publisher = new RecordingPublisher();
    // A poll interval far beyond the test's bound: only the idle poll can deliver in time.
    const relay = new Relay({ source, publisher, pollIntervalMs: 600_000 });
    await source.start();
    expect(source.notify).toBe(false);
    const running = relay.run();
    try {
      // Let the relay claim its buckets and go idle before the event is written.
      expect(await waitFor(async () => source.ownership().leasedBuckets === 4, 10_000, 20)).toBe(true);
      await new Promise((r) => setTimeout(r, 200));
      const outbox = new PostgresOutbox({ contracts: orderContracts(), source: '/test', schema });
      await db.query('BEGIN');
      const e = await outbox.append(db, 'orders.order-placed', orderPlaced('c-idle'));
      await db.query('COMMIT');
      const committedAt = Date.now();
      expect(await waitFor(async () => publisher.published.some((p) => p.event.id === e.id), 3_000, 5)).toBe(true);
      expect(Date.now() - committedAt).toBeLessThan(3_000);
    } finally {
      await relay.stop();
      await running;
      await source.close();
    }
  });

  it('picks up a change of mode at its next lease renewal', async () => {
    const schema = freshSchema();
    await migratePostgres(PG_URL, { schema, buckets: 4 });
    // A short lease: renewed every 300 ms, which is when the relay reads the mode again. The
    // poll interval (2 s) is what wakes an idle relay on a notify-mode outbox to renew.
    const source = new PollingSource({ database: PG_URL, schema, idlePollMs: 25, leaseMs: 900 });
    const publisher = new RecordingPublisher();
    const relay = new Relay({ source, publisher, pollIntervalMs: 2_000 });
    await source.start();
    expect(source.notify).toBe(true);
    const running = relay.run();
    try {
      await migratePostgres(PG_URL, { schema, notify: false });
      expect(await waitFor(async () => source.notify === false, 6_000, 20)).toBe(true);
      // Now idle-polling: the event, committed without NOTIFY, is found well within the 2 s poll interval.
      const outbox = new PostgresOutbox({ contracts: orderContracts(), source: '/test', schema });
      await db.query('BEGIN');
      const e = await outbox.append(db, 'orders.order-placed', orderPlaced('c-switch'));
      await db.query('COMMIT');
      expect(await waitFor(async () => publisher.published.some((p) => p.event.id === e.id), 1_500, 5)).toBe(true);
    } finally {
      await relay.stop();
      await running;
      await source.close();
    }
  });
});
