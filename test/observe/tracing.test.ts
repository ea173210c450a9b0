import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { event } from '../../src/event.js';
import { publishDirect } from '../../src/patterns/direct.js';
import { loadTracing, setTracingImporter, spanContextOf, type Tracing } from '../../src/observe/tracing.js';
import { Relay } from '../../src/relay/relay.js';
import { InMemoryOutbox, RecordingPublisher } from '../../src/testing/index.js';
import { orderContracts, orderPlaced } from '../support/contracts.js';
import { installTracing } from '../support/tracing.js';

const TOPIC = 'orders.order-placed.v1';
const CONTRACT = 'orders.order-placed';
const otel = installTracing();
afterAll(() => otel.shutdown());

const outbox = (): InMemoryOutbox => new InMemoryOutbox({ contracts: orderContracts(TOPIC), source: '/orders-service' });

/** Runs a relay over `o` until `p` holds `n` events, then stops it. */
async function relayUntil(o: InMemoryOutbox, p: RecordingPublisher, n: number): Promise<Relay> {
  const relay = new Relay({ source: o.source(), publisher: p, pollIntervalMs: 5, retryBaseMs: 5, retryMaxMs: 5 });
  const running = relay.run();
  const deadline = Date.now() + 5_000;
  while (p.published.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  await relay.stop();
  await running;
  return relay;
}

beforeEach(async () => {
  setTracingImporter(undefined);
  await loadTracing();
  otel.exporter.reset();
});

describe('tracing with @opentelemetry/api installed', () => {
  it("append takes the active span's context as the event's traceparent, unless the caller gave one", async () => {
    const o = outbox();
    const given = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const { taken, kept, sc } = await otel.tracer.startActiveSpan('placeOrder', async (span) => {
      const events = await o.transaction(async (tx) => ({
        taken: await o.append(tx, CONTRACT, orderPlaced('c-1')),
        kept: await o.append(tx, CONTRACT, orderPlaced('c-1'), { traceparent: given }),
      }));
      span.end();
      return { ...events, sc: span.spanContext() };
    });
    expect(taken.traceparent).toBe(`00-${sc.traceId}-${sc.spanId}-01`);
    expect(kept.traceparent).toBe(given);
  });

  it('append outside any span leaves traceparent unset', async () => {
    const o = outbox();
    const e = await o.transaction((tx) => o.append(tx, CONTRACT, orderPlaced('c-1')));
    expect(e.traceparent).toBeUndefined();
  });

  it("the relay sends each batch in a PRODUCER span of its own, linked to every event's trace context", async () => {
    const o = outbox();
    const contexts = [];
    for (const customer of ['c-1', 'c-2']) {
      contexts.push(
        await otel.tracer.startActiveSpan(`placeOrder ${customer}`, async (span) => {
          await o.transaction((tx) => o.append(tx, CONTRACT, orderPlaced(customer)));
          span.end();
          return span.spanContext();
        }),
      );
    }
    const p = new RecordingPublisher();
    await relayUntil(o, p, 2);
    const [send, ...more] = otel.spans(`send ${TOPIC}`);
    expect(more).toEqual([]);
    expect(send!.kind).toBe(SpanKind.PRODUCER);
    expect(send!.parentSpanContext).toBeUndefined();
    expect(send!.instrumentationScope.name).toBe('herald');
    expect(send!.attributes).toEqual({
      'messaging.system': 'recording',
      'messaging.destination.name': TOPIC,
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'send',
      'messaging.batch.message_count': 2,
    });
    expect(send!.links.map((l) => [l.context.traceId, l.context.spanId])).toEqual(contexts.map((c) => [c.traceId, c.spanId]));
    expect(send!.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('a refused batch is recorded on its span with status ERROR, then each event is sent in a span naming its id', async () => {
    const o = outbox();
    const events = await o.transaction((tx) =>
      o.appendMany(tx, [
        { contract: CONTRACT, data: orderPlaced('c-1') },
        { contract: CONTRACT, data: orderPlaced('c-2') },
      ]),
    );
    const p = new RecordingPublisher().failNext('refused');
    await relayUntil(o, p, 2);
    const [refused, ...singles] = otel.spans(`send ${TOPIC}`);
    expect(refused!.status).toEqual({ code: SpanStatusCode.ERROR, message: expect.stringContaining('refused (injected)') });
    expect(refused!.attributes['error.type']).toBe('PUBLISH_FAILED');
    expect(refused!.events.map((e) => e.name)).toEqual(['exception']);
    expect(singles.map((s) => s.attributes['messaging.message.id'])).toEqual(events.map((e) => e.id));
    expect(singles.every((s) => s.status.code === SpanStatusCode.UNSET && !('messaging.batch.message_count' in s.attributes))).toBe(true);
  });

  it("publishDirect sends in a PRODUCER span that is the child of the caller's span, one span per attempt", async () => {
    const contracts = orderContracts(TOPIC);
    const contract = contracts.get(CONTRACT);
    const data = orderPlaced('c-1');
    const e = event({ source: '/orders-service', type: contract.eventType, data, partitionkey: 'c-1', dataschema: contract.dataschema });
    const p = new RecordingPublisher().failNext('unavailable');
    const request = await otel.tracer.startActiveSpan('POST /orders', async (span) => {
      await publishDirect(p, [e], { contracts, retryBaseMs: 1, retryMaxMs: 1 });
      span.end();
      return span.spanContext();
    });
    const attempts = otel.spans(`send ${TOPIC}`);
    expect(attempts.map((s) => s.status.code)).toEqual([SpanStatusCode.ERROR, SpanStatusCode.UNSET]);
    for (const s of attempts) {
      expect(s.kind).toBe(SpanKind.PRODUCER);
      expect([s.spanContext().traceId, s.parentSpanContext?.spanId]).toEqual([request.traceId, request.spanId]);
      expect(s.attributes['messaging.message.id']).toBe(e.id);
    }
    expect(attempts[0]!.attributes['error.type']).toBe('BROKER_UNAVAILABLE');
  });

  it('a traceparent that is not valid W3C trace context gives no span context', async () => {
    const t = (await loadTracing()) as Tracing;
    expect(spanContextOf(t, '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01')).toMatchObject({ isRemote: true, traceFlags: 1 });
    for (const bad of [
      undefined,
      '',
      'nope',
      `00-${'0'.repeat(32)}-b7ad6b7169203331-01`,
      'ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    ]) {
      expect(spanContextOf(t, bad)).toBeUndefined();
    }
  });
});

describe('tracing without @opentelemetry/api', () => {
  it('changes nothing: no tracer is loaded, append leaves traceparent unset, the relay makes no span', async () => {
    let imports = 0;
    setTracingImporter(() => {
      imports++;
      return Promise.reject(Object.assign(new Error("Cannot find package '@opentelemetry/api'"), { code: 'ERR_MODULE_NOT_FOUND' }));
    });
    expect(await loadTracing()).toBeUndefined();
    const o = outbox();
    // Even inside an application's span: without the package Herald cannot see it.
    const e = await otel.tracer.startActiveSpan('placeOrder', async (span) => {
      const appended = await o.transaction((tx) => o.append(tx, CONTRACT, orderPlaced('c-1')));
      span.end();
      return appended;
    });
    expect(e.traceparent).toBeUndefined();
    const p = new RecordingPublisher();
    await relayUntil(o, p, 1);
    expect(p.published).toHaveLength(1);
    expect(otel.spans().map((s) => s.name)).toEqual(['placeOrder']);
    // One attempt, remembered: the import is not retried on every append.
    expect(imports).toBe(1);
  });
});
