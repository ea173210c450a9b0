/**
 * OpenTelemetry tracing, when the application has `@opentelemetry/api` installed. The package is
 * an optional peer dependency: it is imported lazily, once, and when it is missing every function
 * here answers `undefined` and Herald behaves exactly as without tracing (no traceparent is
 * invented, no span is made, nothing else is loaded).
 *
 * Herald never registers a tracer provider or a context manager itself: that is the
 * application's SDK set-up. Without one, the API's no-op tracer makes every span free.
 */
import type * as OtelApi from '@opentelemetry/api';

/** The `@opentelemetry/api` module, as loaded. */
export type OtelApiModule = typeof OtelApi;

/** The loaded API and Herald's tracer (named `herald`), shared by every traced part of Herald. */
export interface Tracing {
  readonly api: OtelApiModule;
  readonly tracer: OtelApi.Tracer;
}

/** The name Herald's spans are recorded under (the instrumentation scope). */
export const TRACER_NAME = 'herald';

const defaultImporter = (): Promise<OtelApiModule> => import('@opentelemetry/api');

let importer: () => Promise<OtelApiModule> = defaultImporter;
let loading: Promise<Tracing | undefined> | undefined;
let loaded: Tracing | undefined;

/**
 * Loads `@opentelemetry/api` once and resolves with Herald's tracer, or with `undefined` when the
 * package cannot be loaded. Never rejects: tracing must not be a reason for an append or a relay
 * to fail, so a missing (or broken) install means "no tracing", not an error.
 */
export function loadTracing(): Promise<Tracing | undefined> {
  loading ??= importer().then(
    (api) => {
      // The proxy tracer follows whichever provider the application registers, even later.
      loaded = { api, tracer: api.trace.getTracer(TRACER_NAME) };
      return loaded;
    },
    () => undefined,
  );
  return loading;
}

/**
 * The tracing loaded so far, without waiting; starts loading when nothing has been asked yet.
 * Synchronous code (the outbox row builder, SQLite's synchronous append) uses this; the
 * writers start loading when they are constructed, so by the first append it is there.
 */
export function activeTracing(): Tracing | undefined {
  if (loading === undefined) void loadTracing();
  return loaded;
}

/**
 * Replaces how `@opentelemetry/api` is imported, and forgets what was loaded; `undefined` puts
 * the real import back. For tests only: it is how "the package is not installed" is simulated.
 *
 * @internal
 */
export function setTracingImporter(load: (() => Promise<OtelApiModule>) | undefined): void {
  importer = load ?? defaultImporter;
  loading = undefined;
  loaded = undefined;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/**
 * The active span's context as a W3C `traceparent` (`00-<trace id>-<span id>-<flags>`), or
 * `undefined` when tracing is absent or no valid span is active (so an event never carries an
 * all-zero, meaningless context).
 */
export function activeTraceparent(tracing: Tracing | undefined): string | undefined {
  if (tracing === undefined) return undefined;
  const span = tracing.api.trace.getActiveSpan();
  if (span === undefined) return undefined;
  const sc = span.spanContext();
  if (!tracing.api.isSpanContextValid(sc)) return undefined;
  return `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

/**
 * Parses a W3C `traceparent` into a remote span context, or `undefined` when it is absent or not
 * valid trace context (version `ff`, all-zero ids): a producer's bad header must not break a
 * consumer, it only loses the connection between the traces.
 */
export function spanContextOf(tracing: Tracing, traceparent: string | undefined): OtelApi.SpanContext | undefined {
  if (traceparent === undefined) return undefined;
  const m = TRACEPARENT.exec(traceparent.trim().toLowerCase());
  if (m === null || m[1] === 'ff') return undefined;
  const sc: OtelApi.SpanContext = { traceId: m[2]!, spanId: m[3]!, traceFlags: parseInt(m[4]!, 16) & 1, isRemote: true };
  return tracing.api.isSpanContextValid(sc) ? sc : undefined;
}

/** One span link per distinct valid traceparent, in order; what a batch span points back to. */
export function linksOf(tracing: Tracing, traceparents: Iterable<string | undefined>): OtelApi.Link[] {
  const links: OtelApi.Link[] = [];
  const seen = new Set<string>();
  for (const tp of traceparents) {
    const context = spanContextOf(tracing, tp);
    if (context === undefined) continue;
    const id = `${context.traceId}-${context.spanId}`;
    if (seen.has(id)) continue;
    seen.add(id);
    links.push({ context });
  }
  return links;
}

/**
 * Marks `span` as failed: the exception recorded as an event, `error.type` set (the Herald error
 * code when there is one) and the status `ERROR` with the error's message.
 */
export function recordFailure(tracing: Tracing, span: OtelApi.Span, err: unknown): void {
  const error = err instanceof Error ? err : new Error(String(err));
  const code = (err as { code?: unknown } | null)?.code;
  span.recordException(error);
  span.setAttribute('error.type', typeof code === 'string' ? code : error.name);
  span.setStatus({ code: tracing.api.SpanStatusCode.ERROR, message: error.message });
}
