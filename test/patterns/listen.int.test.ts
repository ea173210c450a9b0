import type pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { KafkaPublisher } from '../../src/brokers/kafka/publisher.js';
import { KafkaSubscriber } from '../../src/brokers/kafka/subscriber.js';
import type { OutgoingEvent } from '../../src/brokers/publisher.js';
import { consumeCommand } from '../../src/cli/commands/consume.js';
import { ErrorCodes, HeraldError } from '../../src/errors.js';
import { event, type HeraldEvent } from '../../src/event.js';
import { migrateInbox } from '../../src/postgres/inbox.js';
import { SelfConsumer, type EventHandlers } from '../../src/patterns/listen.js';
import { ORDERS_DDL } from '../../examples/orders/service.js';
import { orderContracts, orderPlaced } from '../support/contracts.js';
import { KAFKA, PG_URL, createTopic, pgClient, uniqueName, waitFor } from '../support/services.js';

const TYPE = 'orders.order-placed';
const DATASCHEMA = 'urn:herald:contract:orders.order-placed:1.0.0';

/** Order-placed events for `topic`, as a service publishing them directly would. */
function orders(topic: string, n: number, customer = (i: number) => `cust-${i % 7}`): OutgoingEvent[] {
  return Array.from({ length: n }, (_, i) => {
    const { data, ...envelope } = event({
      source: '/orders',
      type: TYPE,
      dataschema: DATASCHEMA,
      partitionkey: customer(i),
      data: orderPlaced(customer(i), i),
    });
    return { event: envelope, topic, data: JSON.stringify(data) };
  });
}

async function publish(events: readonly OutgoingEvent[]): Promise<void> {
  const publisher = new KafkaPublisher({ brokers: KAFKA });
  try {
    await publisher.publish(events);
  } finally {
    await publisher.close();
  }
}

/** A fresh schema with the inbox, an `applied` table (no key, so a second apply would show) and a counter row. */
async function database(db: pg.Client, schemas: string[]): Promise<string> {
  const schema = uniqueName('listen');
  schemas.push(schema);
  await migrateInbox(PG_URL, { schema });
  await db.query(`CREATE TABLE "${schema}".applied (event_id text NOT NULL, customer_id text NOT NULL)`);
  await db.query(`CREATE TABLE "${schema}".counter (n int NOT NULL)`);
  await db.query(`INSERT INTO "${schema}".counter VALUES (0)`);
  return schema;
}

/** The handler under test: one row per application and a counter bump, in the runtime's transaction. */
function countingHandlers(schema: string, after?: (tx: pg.Client, event: HeraldEvent) => void | Promise<void>): EventHandlers {
  return {
    [TYPE]: async (tx, e) => {
      const customerId = (e.data as { customerId: string }).customerId;
      await tx.query(`INSERT INTO "${schema}".applied VALUES ($1, $2)`, [e.id, customerId]);
      await tx.query(`UPDATE "${schema}".counter SET n = n + 1`);
      await after?.(tx, e);
    },
  };
}

interface State {
  rows: number;
  ids: number;
  counter: number;
  inbox: number;
}

async function state(db: pg.Client, schema: string, consumer: string): Promise<State> {
  const { rows } = await db.query(
    `SELECT (SELECT count(*)::int FROM "${schema}".applied) AS rows,
            (SELECT count(DISTINCT event_id)::int FROM "${schema}".applied) AS ids,
            (SELECT n FROM "${schema}".counter) AS counter,
            (SELECT count(*)::int FROM "${schema}".inbox WHERE consumer = $1) AS inbox`,
    [consumer],
  );
  return rows[0] as State;
}

/** Starts a runtime on its own subscriber; `stop()` ends it and closes the subscriber. */
function start(options: { topic: string; group: string; schema: string; handlers: EventHandlers; consumer?: string }) {
  const subscriber = new KafkaSubscriber({ brokers: KAFKA, topics: [options.topic], group: options.group, maxWaitMs: 3_000 });
  const runtime = new SelfConsumer({
    subscriber,
    database: PG_URL,
    consumer: options.consumer ?? options.group,
    handlers: options.handlers,
    contracts: orderContracts(options.topic),
    inbox: { schema: options.schema },
    retryBaseMs: 50,
    retryMaxMs: 200,
  });
  const done = runtime.run();
  done.catch(() => undefined);
  return {
    runtime,
    stop: async (): Promise<void> => {
      runtime.stop();
      try {
        await done;
      } finally {
        await subscriber.close();
      }
    },
  };
}

describe('listen-to-yourself consumer (real Kafka and PostgreSQL)', () => {
  const schemas: string[] = [];
  let db: pg.Client;

  afterAll(async () => {
    db ??= await pgClient();
    for (const s of schemas) await db.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
    await db.end();
  });

  it('applies every event exactly once although the broker delivers some twice and the database connection drops', async () => {
    db ??= await pgClient();
    const schema = await database(db, schemas);
    const topic = uniqueName('listen.once').replace('_', '.');
    const group = uniqueName('svc');
    await createTopic(topic);
    const events = orders(topic, 200);
    await publish(events);
    // A replay (a relay that retried, a producer that re-sent): the same ids a second time.
    await publish(events.slice(0, 50));

    // Halfway through, the server ends the consumer's connection inside a handler's transaction:
    // the runtime must roll back, reconnect and apply that event again, once.
    let calls = 0;
    const handlers = countingHandlers(schema);
    const dropping: EventHandlers = {
      [TYPE]: async (tx, e) => {
        await handlers[TYPE]!(tx, e);
        if (++calls === 100) await tx.query('SELECT pg_terminate_backend(pg_backend_pid())');
      },
    };
    const c = start({ topic, group, schema, handlers: dropping });
    try {
      expect(await waitFor(async () => c.runtime.stats.received >= 250, 60_000, 100)).toBe(true);
    } finally {
      await c.stop();
    }
    expect(await state(db, schema, group)).toEqual({ rows: 200, ids: 200, counter: 200, inbox: 200 });
    expect(c.runtime.stats).toMatchObject({ received: 250, applied: 200, duplicates: 50, deadLettered: 0 });
    expect(c.runtime.stats.retries).toBeGreaterThanOrEqual(1);
    expect(calls).toBe(201);
  });

  it('stays exactly once when a consumer stops without acknowledging and a new one gets the batch again', async () => {
    db ??= await pgClient();
    const schema = await database(db, schemas);
    const topic = uniqueName('listen.redeliver').replace('_', '.');
    const group = uniqueName('svc');
    await createTopic(topic);
    await publish(orders(topic, 100));

    // The first consumer applies 39 events, then its database "goes away" for the 40th: it
    // retries with backoff, holding the batch unacknowledged, until it is stopped.
    const K = 40;
    let calls = 0;
    const failing = countingHandlers(schema, () => {
      if (++calls >= K) throw new HeraldError(ErrorCodes.DATABASE_ERROR, 'simulated outage', { retryable: true });
    });
    const first = start({ topic, group, schema, handlers: failing });
    try {
      expect(await waitFor(async () => first.runtime.stats.retries >= 3, 60_000, 50)).toBe(true);
    } finally {
      await first.stop();
    }
    expect(first.runtime.stats).toMatchObject({ batches: 0, applied: K - 1, deadLettered: 0 });
    expect(await state(db, schema, group)).toEqual({ rows: K - 1, ids: K - 1, counter: K - 1, inbox: K - 1 });

    const second = start({ topic, group, schema, handlers: countingHandlers(schema) });
    try {
      expect(await waitFor(async () => second.runtime.stats.received >= 100, 60_000, 100)).toBe(true);
    } finally {
      await second.stop();
    }
    // The whole batch came again; the inbox skipped what the first consumer had committed.
    expect(second.runtime.stats).toMatchObject({ received: 100, applied: 100 - (K - 1), duplicates: K - 1, deadLettered: 0 });
    expect(await state(db, schema, group)).toEqual({ rows: 100, ids: 100, counter: 100, inbox: 100 });
  });

  it('dead-letters what it cannot apply, with the reason, and goes on with the batch', async () => {
    db ??= await pgClient();
    const schema = await database(db, schemas);
    const topic = uniqueName('listen.dead').replace('_', '.');
    const group = uniqueName('svc');
    await createTopic(topic);
    const good = orders(topic, 7, (i) => (i === 3 ? 'cust-poison' : i === 5 ? 'cust-swallow' : `cust-${i}`));
    const [shipped] = orders(topic, 1).map((e) => ({ ...e, event: { ...e.event, type: 'orders.order-shipped', dataschema: undefined } }));
    const [invalid, notJson] = orders(topic, 2).map((e, i) => ({ ...e, data: i === 0 ? e.data.replace('"EUR"', '"euro"') : 'not json' }));
    await publish([good[0]!, shipped!, good[1]!, invalid!, good[2]!, notJson!, good[3]!, good[4]!, good[5]!, good[6]!]);
    // A redelivered dead letter is skipped, not dead-lettered twice.
    await publish([shipped!]);

    const handlers = countingHandlers(schema, async (tx, e) => {
      const customer = (e.data as { customerId: string }).customerId;
      if (customer === 'cust-poison') throw new Error('cannot apply a poisoned order');
      // A handler that swallows a failed statement leaves an aborted transaction behind.
      if (customer === 'cust-swallow') await tx.query('SELECT 1/0').catch(() => undefined);
    });
    const c = start({ topic, group, schema, handlers });
    try {
      expect(await waitFor(async () => c.runtime.stats.received >= 11, 60_000, 100)).toBe(true);
    } finally {
      await c.stop();
    }
    expect(c.runtime.stats).toMatchObject({ received: 11, applied: 5, deadLettered: 5, duplicates: 1 });
    // The poisoned order's own writes were rolled back with it.
    expect(await state(db, schema, group)).toEqual({ rows: 5, ids: 5, counter: 5, inbox: 10 });
    const { rows } = await db.query(`SELECT event_id, event_type, reason FROM "${schema}".inbox_dead_letter ORDER BY reason`);
    expect(rows).toEqual([
      {
        event_id: shipped!.event.id,
        event_type: 'orders.order-shipped',
        reason: `consumer '${group}' has no handler for event type 'orders.order-shipped'`,
      },
      { event_id: notJson!.event.id, event_type: TYPE, reason: expect.stringMatching(/version 1\.0\.0 is not JSON/) },
      { event_id: invalid!.event.id, event_type: TYPE, reason: expect.stringMatching(/version 1\.0\.0 is invalid at \/currency/) },
      { event_id: good[3]!.event.id, event_type: TYPE, reason: `handler of event type '${TYPE}' failed: cannot apply a poisoned order` },
      { event_id: good[5]!.event.id, event_type: TYPE, reason: expect.stringMatching(/failed: the transaction of event .* was aborted/) },
    ]);
  });

  it('refuses to start without the inbox tables, and refuses a handler whose event type has no contract', async () => {
    const subscriber = new KafkaSubscriber({ brokers: KAFKA, topics: ['unused'], group: uniqueName('svc') });
    try {
      const base = { subscriber, database: PG_URL, consumer: 'svc', contracts: orderContracts() };
      expect(() => new SelfConsumer({ ...base, handlers: { 'orders.order-shipped': async () => undefined } })).toThrow(
        /no contract has event type 'orders\.order-shipped'/,
      );
      expect(() => new SelfConsumer({ ...base, database: 'oracle://x', handlers: { [TYPE]: async () => undefined } })).toThrow(
        /option 'database'/,
      );
      const missing = new SelfConsumer({ ...base, handlers: { [TYPE]: async () => undefined }, inbox: { schema: uniqueName('none') } });
      await expect(missing.run()).rejects.toMatchObject({ code: 'NOT_MIGRATED' });
    } finally {
      await subscriber.close();
    }
  });

  it('runs `herald consume` with the example handlers: each order lands once in the service tables', async () => {
    db ??= await pgClient();
    const schema = uniqueName('listen_cli');
    schemas.push(schema);
    await db.query(`CREATE SCHEMA "${schema}"`);
    for (const ddl of ORDERS_DDL)
      await db.query(
        ddl.replace(/TABLE IF NOT EXISTS (\w+)/, `TABLE "${schema}".$1`).replace('REFERENCES orders', `REFERENCES "${schema}".orders`),
      );
    const topic = uniqueName('listen.cli').replace('_', '.');
    await createTopic(topic);
    const events = orders(topic, 20);
    await publish(events);
    await publish(events.slice(0, 5));

    const stop = new AbortController();
    const running = consumeCommand(
      {
        broker: `kafka://${KAFKA}`,
        // The example's tables are unqualified, as a service's are: its search_path finds them.
        database: `${PG_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`,
        contracts: 'examples/orders/contracts',
        handlers: 'examples/orders/listen-handlers.ts',
        topics: [topic],
        group: uniqueName('orders_service'),
        inboxSchema: schema,
        maxWaitMs: 500,
      },
      { signal: stop.signal },
    );
    running.catch(() => undefined);
    const count = async (): Promise<{ orders: number; lines: number; inbox: number }> => {
      // The command creates the inbox as it starts.
      const { rows: ready } = await db.query(`SELECT to_regclass($1) AS inbox`, [`"${schema}".inbox`]);
      if (!ready[0]?.inbox) return { orders: 0, lines: 0, inbox: 0 };
      const { rows } = await db.query(
        `SELECT (SELECT count(*)::int FROM "${schema}".orders) AS orders, (SELECT count(*)::int FROM "${schema}".order_lines) AS lines,
                (SELECT count(*)::int FROM "${schema}".inbox) AS inbox`,
      );
      return rows[0] as { orders: number; lines: number; inbox: number };
    };
    try {
      expect(await waitFor(async () => (await count()).orders >= 20, 60_000, 100)).toBe(true);
      // Let the replayed copies come through as well before stopping.
      await new Promise((r) => setTimeout(r, 2_000));
    } finally {
      stop.abort();
      await running;
    }
    expect(await count()).toEqual({ orders: 20, lines: 20, inbox: 20 });
    const { rows } = await db.query(`SELECT count(*)::int AS n FROM "${schema}".inbox_dead_letter`);
    expect(rows[0]).toEqual({ n: 0 });
  });
});
