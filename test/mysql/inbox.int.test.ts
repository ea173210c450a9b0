import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaPublisher } from '../../src/brokers/kafka/publisher.js';
import { KafkaSubscriber } from '../../src/brokers/kafka/subscriber.js';
import type { OutgoingEvent } from '../../src/brokers/publisher.js';
import { ErrorCodes, isHeraldError } from '../../src/errors.js';
import { event } from '../../src/event.js';
import { consumeCommand } from '../../src/cli/commands/consume.js';
import { MysqlInbox, migrateMysqlInbox } from '../../src/mysql/inbox.js';
import { SelfConsumer, type EventHandlers } from '../../src/patterns/listen.js';
import { orderContracts, orderPlaced } from '../support/contracts.js';
import { KAFKA, createTopic, uniqueName, waitFor } from '../support/services.js';
import { MYSQL_URL, mysqlConnection } from './mysql-support.js';

const TYPE = 'orders.order-placed';
const schemas: string[] = [];
let db: Connection;

beforeAll(async () => {
  db = await mysqlConnection();
});
afterAll(async () => {
  for (const s of schemas) await db.query(`DROP DATABASE IF EXISTS \`${s}\``);
  await db.end();
});

/** A fresh database with the inbox tables and an `applied` table without a key, so a second apply would show. */
async function fresh(): Promise<string> {
  const schema = uniqueName('inbox');
  schemas.push(schema);
  expect(await migrateMysqlInbox(MYSQL_URL, { schema })).toEqual({ schema, created: true });
  expect(await migrateMysqlInbox(MYSQL_URL, { schema })).toEqual({ schema, created: false });
  await db.query(`CREATE TABLE \`${schema}\`.applied (event_id VARCHAR(64) NOT NULL, customer_id VARCHAR(64) NOT NULL) ENGINE=InnoDB`);
  return schema;
}

const count = async (sql: string): Promise<number> => {
  const [[row]] = (await db.query(sql)) as unknown as [[{ n: number }]];
  return Number(row.n);
};

describe('MysqlInbox', () => {
  it('applies an id once: a duplicate is skipped, a rolled-back apply is applied again', async () => {
    const schema = await fresh();
    const inbox = new MysqlInbox({ schema });
    const conn = await mysqlConnection();
    const apply = () => conn.query(`INSERT INTO \`${schema}\`.applied VALUES ('e-1', 'c')`).then(() => 'done');
    try {
      await conn.beginTransaction();
      await expect(inbox.processOnce(conn, 'billing', 'e-1', () => Promise.reject(new Error('handler failed')))).rejects.toThrow(
        'handler failed',
      );
      await conn.rollback();
      await conn.beginTransaction();
      expect(await inbox.processOnce(conn, 'billing', 'e-1', apply)).toEqual({ applied: true, value: 'done' });
      await conn.commit();
      await conn.beginTransaction();
      expect(await inbox.processOnce(conn, 'billing', 'e-1', apply)).toEqual({ applied: false });
      // Another consumer has its own ids.
      expect((await inbox.processOnce(conn, 'shipping', 'e-1', async () => 1)).applied).toBe(true);
      await conn.commit();
    } finally {
      await conn.end();
    }
    expect(await count(`SELECT count(*) AS n FROM \`${schema}\`.applied`)).toBe(1);
    expect(await count(`SELECT count(*) AS n FROM \`${schema}\`.inbox`)).toBe(2);
  });

  it('lets exactly one of two concurrent transactions apply the same id', async () => {
    const schema = await fresh();
    const inbox = new MysqlInbox({ schema });
    const [a, b] = await Promise.all([mysqlConnection(), mysqlConnection()]);
    try {
      await Promise.all([a.beginTransaction(), b.beginTransaction()]);
      expect((await inbox.processOnce(a, 'c', 'same', async () => 'a')).applied).toBe(true);
      // b waits on a's key lock; it must see a's commit and skip.
      const second = inbox.processOnce(b, 'c', 'same', async () => 'b');
      await new Promise((r) => setTimeout(r, 200));
      await a.commit();
      expect(await second).toEqual({ applied: false });
      await b.commit();
    } finally {
      await Promise.all([a.end(), b.end()]);
    }
  });

  it('refuses a connection in autocommit before recording anything, and names a missing table', async () => {
    const schema = await fresh();
    const inbox = new MysqlInbox({ schema });
    const conn = await mysqlConnection();
    try {
      const err = await inbox.processOnce(conn, 'c', 'e-2', async () => 1).catch((e: unknown) => e);
      expect(isHeraldError(err, ErrorCodes.TRANSACTION_REQUIRED)).toBe(true);
      expect((err as Error).message).toContain('beginTransaction()');
      const missing = new MysqlInbox({ schema: uniqueName('nothing_here') });
      await conn.beginTransaction();
      const nm = await missing.processOnce(conn, 'c', 'e-2', async () => 1).catch((e: unknown) => e);
      await conn.rollback();
      expect(isHeraldError(nm, ErrorCodes.NOT_MIGRATED)).toBe(true);
      expect((nm as Error).message).toMatch(/inbox table `nothing_here_.*`\.`inbox` does not exist/);
    } finally {
      await conn.end();
    }
    expect(await count(`SELECT count(*) AS n FROM \`${schema}\`.inbox`)).toBe(0);
    expect(() => new MysqlInbox({ schema: 'x`; DROP DATABASE y' })).toThrow(/option 'schema'/);
  });

  it('records a dead letter once, with its reason and data', async () => {
    const schema = await fresh();
    const inbox = new MysqlInbox({ schema });
    const conn = await mysqlConnection();
    const letter = {
      eventId: 'bad-1',
      topic: 't',
      position: '0@5',
      eventType: TYPE,
      dataschema: null,
      reason: 'no handler',
      data: '{"x":1}',
    };
    try {
      await conn.beginTransaction();
      expect(await inbox.deadLetter(conn, 'c', letter)).toBe(true);
      expect(await inbox.deadLetter(conn, 'c', letter)).toBe(false);
      await conn.commit();
    } finally {
      await conn.end();
    }
    const [rows] = (await db.query(`SELECT event_id, reason, data FROM \`${schema}\`.inbox_dead_letter`)) as unknown as [unknown[]];
    expect(rows).toEqual([{ event_id: 'bad-1', reason: 'no handler', data: '{"x":1}' }]);
  });
});

describe('SelfConsumer on MySQL/MariaDB (real Kafka)', () => {
  it('applies every event exactly once although some are delivered twice and the connection is killed mid-stream', async () => {
    const schema = await fresh();
    const topic = uniqueName('listen.mysql').replace('_', '.');
    const group = uniqueName('svc');
    await createTopic(topic);
    const events: OutgoingEvent[] = Array.from({ length: 120 }, (_, i) => {
      const { data, ...envelope } = event({
        source: '/orders',
        type: TYPE,
        partitionkey: `c-${i % 5}`,
        data: orderPlaced(`c-${i % 5}`, i),
      });
      return { event: envelope, topic, data: JSON.stringify(data) };
    });
    // One more that fails its contract: dead-lettered, the rest goes on.
    const { data: bad, ...badEnvelope } = event({
      source: '/orders',
      type: TYPE,
      partitionkey: 'c-0',
      data: { ...orderPlaced('c-0'), total: 'ten' },
    });
    const publisher = new KafkaPublisher({ brokers: KAFKA });
    await publisher.publish([...events, { event: badEnvelope, topic, data: JSON.stringify(bad) }, ...events.slice(0, 30)]);
    await publisher.close();

    let calls = 0;
    const handlers: EventHandlers<Connection> = {
      [TYPE]: async (tx, e) => {
        await tx.execute(`INSERT INTO \`${schema}\`.applied VALUES (?, ?)`, [e.id, (e.data as { customerId: string }).customerId]);
        // The server kills this session inside the transaction: the runtime must reconnect and apply it again, once.
        if (++calls === 60) await db.query(`KILL ${tx.threadId}`);
      },
    };
    const subscriber = new KafkaSubscriber({ brokers: KAFKA, topics: [topic], group, maxWaitMs: 3_000 });
    const url = Object.assign(new URL(MYSQL_URL), { pathname: `/${schema}` }).toString();
    const runtime = new SelfConsumer({
      subscriber,
      database: url,
      consumer: group,
      handlers,
      contracts: orderContracts(topic),
      inbox: { schema },
      retryBaseMs: 50,
      retryMaxMs: 200,
    });
    const done = runtime.run();
    try {
      expect(await waitFor(async () => runtime.stats.received >= 151, 60_000, 100)).toBe(true);
    } finally {
      runtime.stop();
      await done;
      await subscriber.close();
    }
    expect(await count(`SELECT count(*) AS n FROM \`${schema}\`.applied`)).toBe(120);
    expect(await count(`SELECT count(DISTINCT event_id) AS n FROM \`${schema}\`.applied`)).toBe(120);
    expect(await count(`SELECT count(*) AS n FROM \`${schema}\`.inbox WHERE consumer = '${group}'`)).toBe(121);
    expect(await count(`SELECT count(*) AS n FROM \`${schema}\`.inbox_dead_letter`)).toBe(1);
    expect(runtime.stats).toMatchObject({ received: 151, applied: 120, duplicates: 30, deadLettered: 1 });
    expect(runtime.stats.retries).toBeGreaterThanOrEqual(1);
  });
});

describe('herald consume --database mysql://', () => {
  it('creates the inbox, applies each order once through the handler module, and skips the replayed copies', async () => {
    const schema = uniqueName('consume');
    schemas.push(schema);
    await db.query(`CREATE DATABASE \`${schema}\``);
    await db.query(`CREATE TABLE \`${schema}\`.orders (id CHAR(36) PRIMARY KEY, customer_id VARCHAR(64) NOT NULL) ENGINE=InnoDB`);
    const topic = uniqueName('consume.mysql').replace('_', '.');
    await createTopic(topic);
    const events: OutgoingEvent[] = Array.from({ length: 20 }, (_, i) => {
      const { data, ...envelope } = event({ source: '/orders', type: TYPE, partitionkey: `c-${i}`, data: orderPlaced(`c-${i}`, i) });
      return { event: envelope, topic, data: JSON.stringify(data) };
    });
    const publisher = new KafkaPublisher({ brokers: KAFKA });
    await publisher.publish([...events, ...events.slice(0, 5)]);
    await publisher.close();

    const stop = new AbortController();
    const running = consumeCommand(
      {
        broker: `kafka://${KAFKA}`,
        database: Object.assign(new URL(MYSQL_URL), { pathname: `/${schema}` }).toString(),
        contracts: 'examples/orders/contracts',
        handlers: 'test/mysql/fixtures/consume-handlers.ts',
        topics: [topic],
        group: uniqueName('orders_service'),
        inboxSchema: schema,
        maxWaitMs: 500,
      },
      { signal: stop.signal },
    );
    running.catch(() => undefined);
    const inboxRows = async (): Promise<number> =>
      (await count(`SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = '${schema}' AND table_name = 'inbox'`)) === 0
        ? 0
        : count(`SELECT count(*) AS n FROM \`${schema}\`.inbox`);
    try {
      expect(await waitFor(async () => (await inboxRows()) >= 20, 60_000, 100)).toBe(true);
      await new Promise((r) => setTimeout(r, 2_000)); // let the replayed copies come through too
    } finally {
      stop.abort();
      await running;
    }
    expect(await count(`SELECT count(*) AS n FROM \`${schema}\`.orders`)).toBe(20);
    expect(await inboxRows()).toBe(20);
    expect(await count(`SELECT count(*) AS n FROM \`${schema}\`.inbox_dead_letter`)).toBe(0);
  });
});
