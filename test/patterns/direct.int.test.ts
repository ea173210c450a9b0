import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { KafkaPublisher } from '../../src/brokers/kafka/publisher.js';
import type { OutgoingEvent, Publisher } from '../../src/brokers/publisher.js';
import type { ContractRegistry } from '../../src/contracts/registry.js';
import { HeraldError } from '../../src/errors.js';
import { event, type HeraldEvent } from '../../src/event.js';
import { publishDirect } from '../../src/patterns/direct.js';
import { orderContracts, orderPlaced, seqOf } from '../support/contracts.js';
import { KAFKA, createTopic, pgClient, readTopic, uniqueName } from '../support/services.js';

let db: pg.Client;
const schemas: string[] = [];
const publishers: Publisher[] = [];

beforeAll(async () => {
  db = await pgClient();
});
afterEach(async () => {
  await Promise.all(publishers.splice(0).map((p) => p.close()));
});
afterAll(async () => {
  for (const schema of schemas) await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await db.end();
});

/** A business table of its own, a fresh topic, and the contracts routed to it. */
async function setup() {
  const schema = uniqueName('direct');
  const topic = uniqueName('direct.topic').replace('_', '.');
  schemas.push(schema);
  await db.query(`CREATE SCHEMA "${schema}"`);
  await db.query(`CREATE TABLE "${schema}".orders (order_id uuid PRIMARY KEY, customer_id text NOT NULL)`);
  await createTopic(topic);
  const contracts = orderContracts(topic);
  /** Stores the orders in one committed transaction and returns their events, not yet published. */
  const commitOrders = async (payloads: Record<string, unknown>[]): Promise<HeraldEvent[]> => {
    await db.query('BEGIN');
    for (const p of payloads)
      await db.query(`INSERT INTO "${schema}".orders (order_id, customer_id) VALUES ($1, $2)`, [p.orderId, p.customerId]);
    await db.query('COMMIT');
    return payloads.map((data) => placedEvent(contracts, data));
  };
  const stored = async (orderId: unknown): Promise<boolean> =>
    (await db.query(`SELECT 1 FROM "${schema}".orders WHERE order_id = $1`, [orderId])).rows.length === 1;
  return { topic, contracts, commitOrders, stored };
}

/** An order-placed event as a service using the direct pattern builds it. */
function placedEvent(contracts: ContractRegistry, data: Record<string, unknown>): HeraldEvent {
  const contract = contracts.get('orders.order-placed');
  return event({
    source: '/direct-test',
    type: contract.eventType,
    data,
    partitionkey: String(data[contract.partitionKey]),
    dataschema: contract.dataschema,
  });
}

function kafka(brokers: string = KAFKA): KafkaPublisher {
  const p = new KafkaPublisher({ brokers, ackTimeoutMs: 2000, timeoutMs: 500, retries: 0 });
  publishers.push(p);
  return p;
}

/** Counts the publish calls a publisher receives. */
function counting(inner: Publisher): Publisher & { calls: number } {
  const p = {
    name: inner.name,
    calls: 0,
    prepare: (topics: readonly string[]) => inner.prepare(topics),
    publish: async (batch: readonly OutgoingEvent[]) => {
      p.calls++;
      await inner.publish(batch);
    },
    close: () => inner.close(),
  };
  return p;
}

describe('publishDirect', () => {
  it('publishes the events of a committed transaction to their contract topic, in order, once', async () => {
    const t = await setup();
    const events = await t.commitOrders([orderPlaced('alice', 0), orderPlaced('bob', 0), orderPlaced('alice', 1)]);
    await publishDirect(kafka(), events, { contracts: t.contracts });

    const messages = await readTopic(t.topic);
    expect(messages.map((m) => m.headers.ce_id).sort()).toEqual(events.map((e) => e.id).sort());
    const first = messages.find((m) => m.headers.ce_id === events[0]!.id)!;
    expect(first.key).toBe('alice');
    expect(first.headers).toMatchObject({
      ce_source: '/direct-test',
      ce_type: 'orders.order-placed',
      ce_dataschema: 'urn:herald:contract:orders.order-placed:1.0.0',
      ce_partitionkey: 'alice',
    });
    expect(JSON.parse(first.payload)).toEqual(events[0]!.data);
    expect(messages.filter((m) => m.key === 'alice').map((m) => seqOf(m.payload))).toEqual([0, 1]);
  });

  it('rejects after its last attempt when the broker is unreachable, naming the now divergent events: in the database, not on the topic', async () => {
    const t = await setup();
    const events = await t.commitOrders([orderPlaced('carol', 0), orderPlaced('dave', 0)]);
    const unreachable = counting(kafka('127.0.0.1:1'));

    const err = await publishDirect(unreachable, events, { contracts: t.contracts, attempts: 3, retryBaseMs: 20, retryMaxMs: 100 }).then(
      () => undefined,
      (e: unknown) => e,
    );

    expect(err).toBeInstanceOf(HeraldError);
    const e = err as HeraldError;
    expect(e.code).toBe('BROKER_UNAVAILABLE');
    expect(e.message).toMatch(/^cannot publish 2 event\(s\) directly \(3 attempt\(s\) failed\)/);
    expect(e.message).toMatch(/they are now divergent, committed in the database but not on the broker/);
    for (const ev of events) expect(e.message).toContain(ev.id);
    expect(e.details.divergentEventIds).toEqual(events.map((ev) => ev.id));
    expect(unreachable.calls).toBe(3);
    // The payload is not in the message.
    expect(e.message).not.toContain('EUR');

    // Both sides of the divergence: the change is committed, the topic never got its events.
    for (const ev of events) expect(await t.stored((ev.data as { orderId: string }).orderId)).toBe(true);
    // A later event that does reach the topic shows that the topic is read, not just empty.
    const [later] = await t.commitOrders([orderPlaced('erin', 0)]);
    await publishDirect(kafka(), [later!], { contracts: t.contracts });
    const ids = (await readTopic(t.topic)).map((m) => m.headers.ce_id);
    expect(ids).toEqual([later!.id]);
  });

  it('does not retry a refusal that retrying cannot fix', async () => {
    const t = await setup();
    const events = await t.commitOrders([orderPlaced('frank', 0)]);
    const refusing = counting({
      name: 'refusing',
      prepare: async () => undefined,
      publish: async () => {
        throw new HeraldError('PUBLISH_REJECTED', 'record too large');
      },
      close: async () => undefined,
    });
    await expect(publishDirect(refusing, events, { contracts: t.contracts, retryBaseMs: 20 })).rejects.toMatchObject({
      code: 'PUBLISH_REJECTED',
      retryable: false,
      message: expect.stringContaining(
        `record too large; they are now divergent, committed in the database but not on the broker: ${events[0]!.id}`,
      ),
    });
    expect(refusing.calls).toBe(1);
  });

  it('validates every event against its contract before publishing any, and says the events are divergent', async () => {
    const t = await setup();
    const [good] = await t.commitOrders([orderPlaced('grace', 0)]);
    const bad = placedEvent(t.contracts, orderPlaced('grace', 1, { currency: 'euro' }));
    const sink = counting(kafka());
    await expect(publishDirect(sink, [good!, bad], { contracts: t.contracts })).rejects.toMatchObject({
      code: 'EVENT_INVALID',
      message: expect.stringMatching(
        /event for contract 'orders\.order-placed' version 1\.0\.0 is invalid at \/currency.*they are now divergent.*: [0-9a-f-]{36}, [0-9a-f-]{36}$/,
      ),
    });
    expect(sink.calls).toBe(0);

    const wrongKey = event({ ...placedEvent(t.contracts, orderPlaced('heidi', 0)), partitionkey: 'someone-else' });
    await expect(publishDirect(sink, [wrongKey], { contracts: t.contracts })).rejects.toThrow(
      /has partitionkey that differs from property 'customerId'/,
    );
    await expect(publishDirect(sink, [good!], { contracts: t.contracts, attempts: 0 })).rejects.toThrow(
      /option 'attempts' of publishDirect must be a positive integer, got 0/,
    );
    expect(sink.calls).toBe(0);
  });
});
