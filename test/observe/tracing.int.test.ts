import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpanKind, SpanStatusCode, trace, type SpanContext } from '@opentelemetry/api';
import Database from 'better-sqlite3';
import type pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import type { HeraldEvent } from '../../src/event.js';
import { loadTracing } from '../../src/observe/tracing.js';
import { SelfConsumer } from '../../src/patterns/listen.js';
import { migrateInbox } from '../../src/postgres/inbox.js';
import { EagerDispatcher } from '../../src/postgres/eager-dispatch.js';
import { PostgresOutbox } from '../../src/postgres/outbox.js';
import { postgresStore } from '../../src/postgres/store.js';
import { Relay } from '../../src/relay/relay.js';
import { sqliteStore } from '../../src/sqlite/store.js';
import { RecordingPublisher } from '../../src/testing/index.js';
import { DuckDbSink } from '../../src/warehouse/duckdb-sink.js';
import { Loader } from '../../src/warehouse/loader.js';
import { orderContracts, orderPlaced } from '../support/contracts.js';
import { PG_URL, pgClient, uniqueName, waitFor } from '../support/services.js';
import { RecordedSubscriber, installTracing } from '../support/tracing.js';
import { freshSqlite } from '../sqlite/sqlite-support.js';

const TOPIC = 'orders.order-placed.v1';
const CONTRACT = 'orders.order-placed';
const otel = installTracing();
const ids = (c: SpanContext): [string, string] => [c.traceId, c.spanId];

describe('one trace from a service request through the outbox, the relay, the loader and the consumer (real PostgreSQL, DuckDB)', () => {
  const schemas: string[] = [];
  let db: pg.Client | undefined;

  afterAll(async () => {
    db ??= await pgClient();
    for (const s of schemas) await db.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
    await db.end();
    await otel.shutdown();
  });

  it('links the relay and the loader to each request, and the consumer continues each request as its parent', async () => {
    await loadTracing();
    const schema = uniqueName('trace');
    schemas.push(schema);
    const contracts = orderContracts(TOPIC);
    const store = postgresStore(PG_URL, { schema });
    await store.migrate();
    const outbox = store.writer({ contracts, source: '/orders-service' });
    db = await pgClient();
    const tx = db;

    // Two requests of the service, each its own trace, each appending one event in its transaction.
    const requests: { span: SpanContext; event: HeraldEvent }[] = [];
    for (const customer of ['c-1', 'c-2']) {
      requests.push(
        await otel.tracer.startActiveSpan(`POST /orders ${customer}`, { kind: SpanKind.SERVER }, async (span) => {
          await tx.query('BEGIN');
          const appended = await outbox.append(tx, CONTRACT, orderPlaced(customer));
          await tx.query('COMMIT');
          span.end();
          return { span: span.spanContext(), event: appended };
        }),
      );
    }
    for (const r of requests) expect(r.event.traceparent).toBe(`00-${r.span.traceId}-${r.span.spanId}-01`);
    // The outbox row keeps it: what the relay reads back is what the request wrote.
    const { rows } = await tx.query(`SELECT traceparent FROM "${schema}".outbox ORDER BY id`);
    expect(rows.map((r: { traceparent: string }) => r.traceparent)).toEqual(requests.map((r) => r.event.traceparent));

    // The relay: both events in one batch, one PRODUCER span linked to both requests.
    const publisher = new RecordingPublisher();
    const source = store.pollingSource({ leaseMs: 3000 });
    await source.start();
    const relay = new Relay({ source, publisher, pollIntervalMs: 50 });
    const relaying = relay.run();
    expect(await waitFor(async () => publisher.published.length === 2, 30_000, 50)).toBe(true);
    await relay.stop();
    await relaying;
    await source.close();
    const sends = otel.spans(`send ${TOPIC}`);
    expect(sends).toHaveLength(1);
    const send = sends[0]!;
    expect(send.kind).toBe(SpanKind.PRODUCER);
    expect(send.attributes).toMatchObject({
      'messaging.system': 'recording',
      'messaging.destination.name': TOPIC,
      'messaging.operation.type': 'send',
      'messaging.batch.message_count': 2,
    });
    expect(send.links.map((l) => ids(l.context))).toEqual(requests.map((r) => ids(r.span)));
    // The broker carries the event's own traceparent, not the relay's: consumers continue the request.
    expect(publisher.published.map((p) => p.event.traceparent)).toEqual(requests.map((r) => r.event.traceparent));

    // The warehouse loader: one batch of both events, one CONSUMER span linked to both requests.
    const sink = new DuckDbSink({ path: join(mkdtempSync(join(tmpdir(), 'herald-trace-')), 'warehouse.duckdb') });
    const fromBroker = new RecordedSubscriber(publisher.published);
    const loader = new Loader({ subscriber: fromBroker, sink, contracts, piiKey: 'k'.repeat(32) });
    const loading = loader.run();
    expect(await waitFor(async () => fromBroker.acked === 1, 30_000, 20)).toBe(true);
    loader.stop();
    await loading;
    await sink.close();
    expect(loader.stats.inserted).toBe(2);
    const [load, ...moreLoads] = otel.spans(`process ${TOPIC}`);
    expect(moreLoads).toEqual([]);
    expect(load!.kind).toBe(SpanKind.CONSUMER);
    expect(load!.attributes).toMatchObject({
      'messaging.system': 'recording',
      'messaging.destination.name': TOPIC,
      'messaging.operation.type': 'process',
      'messaging.batch.message_count': 2,
    });
    expect(load!.links.map((l) => ids(l.context))).toEqual(requests.map((r) => ids(r.span)));
    otel.exporter.reset();

    // Listen to yourself: each event is applied in a CONSUMER span whose parent is its request,
    // and the handler's own spans join that request's trace.
    await migrateInbox(PG_URL, { schema });
    const seenByHandler: SpanContext[] = [];
    const consumer = new SelfConsumer({
      subscriber: new RecordedSubscriber(publisher.published),
      database: PG_URL,
      consumer: 'orders-projection',
      contracts,
      inbox: { schema },
      handlers: {
        [requests[0]!.event.type]: async (handlerTx: pg.Client) => {
          await otel.tracer.startActiveSpan('project order', async (span) => {
            await handlerTx.query('SELECT 1');
            span.end();
          });
          seenByHandler.push(trace.getActiveSpan()!.spanContext());
        },
      },
    });
    const consuming = consumer.run();
    expect(await waitFor(async () => consumer.stats.applied === 2, 30_000, 20)).toBe(true);
    consumer.stop();
    await consuming;

    const processes = otel.spans(`process ${TOPIC}`);
    expect(processes).toHaveLength(2);
    for (const [i, p] of processes.entries()) {
      const request = requests[i]!;
      expect(p.kind).toBe(SpanKind.CONSUMER);
      expect(p.spanContext().traceId).toBe(request.span.traceId);
      expect(p.parentSpanContext?.spanId).toBe(request.span.spanId);
      expect(p.links).toEqual([]);
      expect(p.attributes).toMatchObject({
        'messaging.system': 'recording',
        'messaging.destination.name': TOPIC,
        'messaging.operation.type': 'process',
        'messaging.message.id': request.event.id,
        'messaging.consumer.group.name': 'orders-projection',
        'herald.inbox.duplicate': false,
      });
      expect(p.status.code).toBe(SpanStatusCode.UNSET);
      expect(ids(seenByHandler[i]!)).toEqual(ids(p.spanContext()));
    }
    const projections = otel.spans('project order');
    expect(projections.map((s) => [s.spanContext().traceId, s.parentSpanContext?.spanId])).toEqual(
      processes.map((p) => [p.spanContext().traceId, p.spanContext().spanId]),
    );
  });

  it("SQLite's synchronous append inside db.transaction() takes the active span's context as well", async () => {
    const { file, url } = freshSqlite('trace');
    const store = sqliteStore(url);
    await store.migrate();
    const outbox = store.writer({ contracts: orderContracts(TOPIC), source: '/orders-service' });
    const db = new Database(file);
    try {
      const { appended, span } = otel.tracer.startActiveSpan('POST /orders', (s) => {
        const e = db.transaction(() => outbox.appendSync(db, CONTRACT, orderPlaced('c-1')))();
        s.end();
        return { appended: e, span: s.spanContext() };
      });
      expect(appended.traceparent).toBe(`00-${span.traceId}-${span.spanId}-01`);
      const row = db.prepare('SELECT traceparent FROM herald_outbox').get() as { traceparent: string };
      expect(row.traceparent).toBe(appended.traceparent);
    } finally {
      db.close();
    }
  });

  it("eager dispatch sends in a PRODUCER span that is the child of the request's span, linked to the events", async () => {
    const schema = uniqueName('trace');
    schemas.push(schema);
    await postgresStore(PG_URL, { schema }).migrate();
    const contracts = orderContracts(TOPIC);
    const outbox = new PostgresOutbox({ contracts, source: '/orders-service', schema, holdMs: 10_000 });
    const publisher = new RecordingPublisher();
    const dispatcher = new EagerDispatcher({ database: PG_URL, schema, publisher });
    db ??= await pgClient();
    const tx = db;
    otel.exporter.reset();
    const { request, events } = await otel.tracer.startActiveSpan('POST /orders', async (span) => {
      await tx.query('BEGIN');
      const appended = await outbox.appendMany(tx, [{ contract: CONTRACT, data: orderPlaced('c-1') }]);
      await dispatcher.commitAndDispatch(tx, appended);
      span.end();
      return { request: span.spanContext(), events: appended };
    });
    await dispatcher.close();
    expect(publisher.published.map((p) => p.event.id)).toEqual(events.map((e) => e.id));
    const [send, ...more] = otel.spans(`send ${TOPIC}`);
    expect(more).toEqual([]);
    expect(send!.kind).toBe(SpanKind.PRODUCER);
    expect([send!.spanContext().traceId, send!.parentSpanContext?.spanId]).toEqual([request.traceId, request.spanId]);
    expect(send!.links.map((l) => ids(l.context))).toEqual([ids(request)]);
    expect(send!.attributes['messaging.message.id']).toBe(events[0]!.id);
  });
});
