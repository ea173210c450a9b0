import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { KafkaPublisher } from '../../src/brokers/kafka/publisher.js';
import type { Publisher } from '../../src/brokers/publisher.js';
import { HeraldError, isHeraldError } from '../../src/errors.js';
import { migratePostgres } from '../../src/postgres/migrate.js';
import { PostgresOutbox } from '../../src/postgres/outbox.js';
import { LogicalSource, type LogicalSourceOptions } from '../../src/postgres/logical-source.js';
import { Relay, type RelayOptions } from '../../src/relay/relay.js';
import { consoleLogger } from '../../src/observe/logger.js';
import { firstSeqs, orderContracts, orderPlaced } from '../support/contracts.js';
import { KAFKA, PG_URL, createTopic, pgClient, readTopic, restartPostgresCluster, uniqueName, waitFor } from '../support/services.js';

let db: pg.Client;
const running: { relay: Relay; source: LogicalSource }[] = [];
const slots: string[] = [];

beforeAll(async () => {
  db = await pgClient();
});
afterEach(async () => {
  for (const r of running.splice(0)) {
    await r.relay.stop();
    await r.source.close();
  }
  // A slot left behind would keep WAL on the shared server forever.
  const admin = await pgClient();
  for (const slot of slots.splice(0)) {
    await waitFor(
      async () => (await admin.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND active', [slot])).rowCount === 0,
      10_000,
    );
    await admin.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1', [slot]);
    await admin.query(`DROP PUBLICATION IF EXISTS "${slot.replace(/_relay$/, '_outbox')}"`);
  }
  await admin.end();
});
afterAll(async () => {
  await db.end().catch(() => undefined);
});

type Mode = 'table' | 'wal';

/** A fresh schema with its slot, a topic, an outbox writer in `mode`, and a way to start logical relays. */
async function setup(mode: Mode, { slot = true } = {}) {
  const schema = uniqueName('logical');
  const topic = uniqueName('logical.topic').replace('_', '.');
  await migratePostgres(PG_URL, { schema, ...(slot ? { logical: {} } : {}) });
  if (slot) slots.push(`${schema}_relay`);
  await createTopic(topic);
  const outbox = new PostgresOutbox({ contracts: orderContracts(topic), source: '/logical-test', schema, mode });
  const write = async (events: Record<string, unknown>[], commit = true, client: pg.Client = db): Promise<string[]> => {
    await client.query('BEGIN');
    const written = await outbox.appendMany(
      client,
      events.map((data) => ({ contract: 'orders.order-placed', data })),
    );
    await client.query(commit ? 'COMMIT' : 'ROLLBACK');
    return written.map((e) => e.id);
  };
  const start = (
    options: Partial<RelayOptions> = {},
    publisher: Publisher = new KafkaPublisher({ brokers: KAFKA, ackTimeoutMs: 3000, timeoutMs: 1000, retries: 1 }),
    sourceOptions: Partial<LogicalSourceOptions> = {},
  ) => {
    const logger = process.env.HERALD_TEST_LOG ? consoleLogger({ json: false, debug: true }) : undefined;
    const source = new LogicalSource({ database: PG_URL, schema, heartbeatMs: 300, ...sourceOptions, ...(logger ? { logger } : {}) });
    const relay = new Relay({
      source,
      publisher,
      retryBaseMs: 50,
      retryMaxMs: 500,
      pollIntervalMs: 200,
      ...options,
      ...(logger ? { logger } : {}),
    });
    running.push({ relay, source });
    const done = source.start().then(() => relay.run());
    done.catch(() => undefined);
    return { relay, source, done };
  };
  /** Distinct event ids that reached the topic. */
  const arrived = async (): Promise<number> => new Set((await readTopic(topic)).map((m) => m.headers.ce_id)).size;
  return { schema, topic, outbox, write, start, arrived, slot: `${schema}_relay` };
}

describe.each(['table', 'wal'] as const)('logical relay, %s mode', (mode) => {
  it('delivers in commit order per key across 8 concurrent writers, and never a rolled-back event', async () => {
    const t = await setup(mode);
    await db.query(`CREATE TABLE "${t.schema}".counters (key text PRIMARY KEY, n int NOT NULL)`);
    const keys = Array.from({ length: 10 }, (_, k) => `key-${k}`);
    await db.query(`INSERT INTO "${t.schema}".counters SELECT unnest($1::text[]), 0`, [keys]);
    const { relay } = t.start();

    const committed: string[] = [];
    const rolledBack: string[] = [];
    const writers = await Promise.all(Array.from({ length: 8 }, () => pgClient()));
    await Promise.all(
      writers.map(async (w, i) => {
        for (let n = 0; n < 40; n++) {
          const key = keys[(i * 7 + n * 3) % keys.length]!;
          await w.query('BEGIN');
          // The counter row is locked until commit, so per key its value orders the commits.
          const { rows } = await w.query(`UPDATE "${t.schema}".counters SET n = n + 1 WHERE key = $1 RETURNING n`, [key]);
          const [e] = await t.outbox.appendMany(w, [{ contract: 'orders.order-placed', data: orderPlaced(key, rows[0].n) }]);
          const rollback = n % 9 === 4;
          await w.query(rollback ? 'ROLLBACK' : 'COMMIT');
          (rollback ? rolledBack : committed).push(e!.id);
        }
      }),
    );
    await Promise.all(writers.map((w) => w.end()));

    expect(await waitFor(async () => relay.stats.delivered >= committed.length, 60_000)).toBe(true);
    const messages = await readTopic(t.topic);
    const ids = new Set(messages.map((m) => m.headers.ce_id));
    expect(ids).toEqual(new Set(committed));
    for (const id of rolledBack) expect(ids.has(id)).toBe(false);
    const { rows: counters } = await db.query(`SELECT key, n FROM "${t.schema}".counters`);
    for (const { key, n } of counters) {
      expect(firstSeqs(messages, key), `order of ${key}`).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    }
  });

  it('reconnects after PostgreSQL restarts and delivers what was written before and after, once', async () => {
    const t = await setup(mode);
    const { relay, done } = t.start();
    const before = await t.write(Array.from({ length: 50 }, (_, i) => orderPlaced(`pg-${i % 5}`, Math.floor(i / 5))));
    expect(await waitFor(async () => relay.stats.delivered === 50, 20_000)).toBe(true);
    await db.end();
    await restartPostgresCluster();
    db = await pgClient();
    const after = await t.write(Array.from({ length: 50 }, (_, i) => orderPlaced(`pg-${i % 5}`, 10 + Math.floor(i / 5))));
    expect(await waitFor(async () => (await t.arrived()) === 100, 60_000, 500)).toBe(true);
    const messages = await readTopic(t.topic);
    expect(new Set(messages.map((m) => m.headers.ce_id))).toEqual(new Set([...before, ...after]));
    // Delivered before the restart and recorded: not sent again after it.
    expect(messages).toHaveLength(100);
    for (let k = 0; k < 5; k++) {
      expect(firstSeqs(messages, `pg-${k}`)).toEqual([
        ...Array.from({ length: 10 }, (_, i) => i),
        ...Array.from({ length: 10 }, (_, i) => 10 + i),
      ]);
    }
    expect(await Promise.race([done.then(() => 'stopped'), new Promise((r) => setTimeout(() => r('running'), 100))])).toBe('running');
  });

  it('retries a refused event later and dead-letters it after maxAttempts, holding back only its key, in order', async () => {
    const t = await setup(mode);
    const ids = await t.write([orderPlaced('flaky', 0), orderPlaced('flaky', 1), orderPlaced('steady', 0)]);
    const more = await t.write([orderPlaced('flaky', 2), orderPlaced('steady', 1)]);
    const kafka = new KafkaPublisher({ brokers: KAFKA });
    // Refuses the first 'flaky' event every time, as a broker with a persistent per-record error would.
    const refusing: Publisher = {
      name: 'refusing',
      prepare: (topics) => kafka.prepare(topics),
      publish: async (batch) => {
        if (batch.some((e) => e.event.id === ids[0]))
          throw new HeraldError('PUBLISH_FAILED', 'not leader for partition', { retryable: true });
        await kafka.publish(batch);
      },
      close: () => kafka.close(),
    };
    const { source } = t.start({ maxAttempts: 3 }, refusing);
    expect(await waitFor(async () => (await t.arrived()) === 4, 30_000)).toBe(true);

    const { rows } = await db.query(`SELECT event_id::text AS id, attempts, last_error FROM "${t.schema}".dead_letter`);
    expect(rows).toEqual([{ id: ids[0], attempts: 3, last_error: 'not leader for partition' }]);
    const messages = await readTopic(t.topic);
    expect(firstSeqs(messages, 'flaky')).toEqual([1, 2]);
    expect(firstSeqs(messages, 'steady')).toEqual([0, 1]);
    expect(new Set(messages.map((m) => m.headers.ce_id))).toEqual(new Set([ids[1], ids[2], ...more]));
    expect(source.stats.parked).toBeGreaterThanOrEqual(2);
    expect(await waitFor(async () => (await db.query(`SELECT 1 FROM "${t.schema}".relay_parked`)).rowCount === 0, 5_000)).toBe(true);
  });
});

describe('logical relay', () => {
  it('keeps the slot lag bounded while the outbox is idle and an unrelated table is busy', async () => {
    const t = await setup('table');
    t.start({}, undefined, { heartbeatMs: 200 });
    await db.query(`CREATE TABLE "${t.schema}".busy (id serial PRIMARY KEY, filler text)`);
    const lag = async (): Promise<number> =>
      Number(
        (
          await db.query(
            `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::float8 AS lag FROM pg_replication_slots WHERE slot_name = $1`,
            [t.slot],
          )
        ).rows[0].lag,
      );
    const start = (await db.query('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0].lsn as string;
    // About 40 MB of WAL that the slot does not publish.
    for (let i = 0; i < 40; i++)
      await db.query(`INSERT INTO "${t.schema}".busy (filler) SELECT repeat('x', 1000) FROM generate_series(1, 1000)`);
    const { rows } = await db.query('SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::float8 AS written', [start]);
    expect(rows[0].written).toBeGreaterThan(30 * 1024 * 1024);
    // Without heartbeats or keepalive confirmations the lag would stay at 40 MB or more.
    expect(await waitFor(async () => (await lag()) < 1024 * 1024, 15_000, 250)).toBe(true);
  });

  it('delivers the events that were in the outbox table before the slot existed, first and in order', async () => {
    const t = await setup('table', { slot: false });
    const early = await t.write(Array.from({ length: 20 }, (_, i) => orderPlaced('early', i)));
    const result = await migratePostgres(PG_URL, { schema: t.schema, logical: {} });
    slots.push(t.slot);
    expect(result.logical).toMatchObject({ createdSlot: true, createdPublication: true, handedOver: 20 });
    const late = await t.write(Array.from({ length: 10 }, (_, i) => orderPlaced('early', 20 + i)));
    t.start();
    expect(await waitFor(async () => (await t.arrived()) === 30, 20_000)).toBe(true);
    const messages = await readTopic(t.topic);
    expect(new Set(messages.map((m) => m.headers.ce_id))).toEqual(new Set([...early, ...late]));
    expect(firstSeqs(messages, 'early')).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });

  it('lets one relay stream a slot at a time: a second one waits as a standby and takes over when the first stops', async () => {
    const t = await setup('table');
    const first = t.start({ retryMaxMs: 300 });
    const firstIds = await t.write(Array.from({ length: 10 }, (_, i) => orderPlaced('standby', i)));
    expect(await waitFor(async () => first.relay.stats.delivered === 10, 20_000)).toBe(true);
    const second = t.start({ retryBaseMs: 100, retryMaxMs: 300 });
    await new Promise((r) => setTimeout(r, 1000));
    expect(second.relay.stats.delivered).toBe(0);
    expect(second.source.stats.streams).toBe(0);
    await first.relay.stop();
    await first.source.close();
    const secondIds = await t.write(Array.from({ length: 10 }, (_, i) => orderPlaced('standby', 10 + i)));
    expect(await waitFor(async () => second.relay.stats.delivered === 10, 20_000)).toBe(true);
    const messages = await readTopic(t.topic);
    expect(messages.map((m) => m.headers.ce_id)).toEqual([...firstIds, ...secondIds]);
  });

  it('refuses to start without its slot and says to run migrate', async () => {
    const t = await setup('table', { slot: false });
    const source = new LogicalSource({ database: PG_URL, schema: t.schema });
    const err = await source.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    await source.close();
    expect(isHeraldError(err) && err.code).toBe('NOT_MIGRATED');
    expect((err as Error).message).toBe(`replication slot '${t.slot}' does not exist: run 'herald migrate --source logical'`);
  });

  it('reports an invalidated slot clearly, and --recreate-slot recovers it with the table backlog kept', async () => {
    const t = await setup('table');
    const ids = await t.write(Array.from({ length: 5 }, (_, i) => orderPlaced('lost', i)));
    try {
      await db.query(`ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'`);
      await db.query('SELECT pg_reload_conf()');
      // Move past a few WAL segments, then checkpoint: PostgreSQL invalidates the slot that holds them.
      for (let i = 0; i < 4; i++) {
        await db.query(
          `CREATE TEMP TABLE IF NOT EXISTS churn (x text); INSERT INTO churn SELECT repeat('y', 100) FROM generate_series(1, 1000)`,
        );
        await db.query('SELECT pg_switch_wal()');
      }
      await db.query('CHECKPOINT');
      const { rows } = await db.query('SELECT wal_status FROM pg_replication_slots WHERE slot_name = $1', [t.slot]);
      expect(rows[0].wal_status).toBe('lost');
    } finally {
      await db.query('ALTER SYSTEM RESET max_slot_wal_keep_size');
      await db.query('SELECT pg_reload_conf()');
    }
    const source = new LogicalSource({ database: PG_URL, schema: t.schema });
    const err = await source.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    await source.close();
    expect(isHeraldError(err) && err.code).toBe('SLOT_INVALIDATED');
    expect((err as Error).message).toMatch(/was invalidated.*herald migrate --source logical --recreate-slot/);
    await expect(migratePostgres(PG_URL, { schema: t.schema, logical: {} })).rejects.toMatchObject({ code: 'SLOT_INVALIDATED' });

    const recovered = await migratePostgres(PG_URL, { schema: t.schema, logical: { recreateSlot: true } });
    expect(recovered.logical).toMatchObject({ createdSlot: true, handedOver: 5 });
    t.start();
    expect(await waitFor(async () => (await t.arrived()) === 5, 20_000)).toBe(true);
    const messages = await readTopic(t.topic);
    expect(new Set(messages.map((m) => m.headers.ce_id))).toEqual(new Set(ids));
    expect(firstSeqs(messages, 'lost')).toEqual([0, 1, 2, 3, 4]);
  });
});
