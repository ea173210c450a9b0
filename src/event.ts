import { uuidv7 } from './uuidv7.js';
import { HeraldError, ErrorCodes } from './errors.js';

/**
 * A CloudEvents 1.0 event as Herald carries it. The `id` is a UUIDv7 made once, at creation,
 * and travels unchanged through every retry and every hop: it is the deduplication key.
 * Events are readonly plain objects; make them with {@link event}.
 */
export interface HeraldEvent<T = unknown> {
  readonly specversion: '1.0';
  readonly id: string;
  readonly source: string;
  readonly type: string;
  readonly time: string;
  readonly subject?: string;
  readonly datacontenttype: 'application/json';
  /** The contract that `data` satisfies, as `<contract id>/<version>`. */
  readonly dataschema?: string;
  /** CloudEvents extension: the key that orders events (Kafka message key). */
  readonly partitionkey: string;
  /** CloudEvents distributed-tracing extension (W3C trace context). */
  readonly traceparent?: string;
  readonly data: T;
}

/** What {@link event} needs; everything else has a sensible default. */
export interface EventInit<T> {
  readonly source: string;
  readonly type: string;
  readonly data: T;
  readonly partitionkey: string;
  readonly subject?: string;
  readonly dataschema?: string;
  readonly traceparent?: string;
  /** Defaults to a fresh UUIDv7. Pass one only to re-create an event that already exists. */
  readonly id?: string;
  /** Defaults to now, as an RFC 3339 timestamp. */
  readonly time?: string | Date;
}

const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
/** A UTF-16 surrogate without its pair: not a character, so it cannot travel as UTF-8. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Why `value` cannot travel as an envelope attribute, or undefined. PostgreSQL's `text` refuses
 * NUL (inside the caller's transaction, aborting it), and a lone surrogate becomes U+FFFD on the
 * wire while the caller kept the original — so both are refused before any SQL.
 */
function unsafeText(value: string): string | undefined {
  if (value.includes('\u0000')) return 'contains a NUL character (U+0000)';
  if (LONE_SURROGATE.test(value)) return 'contains a lone UTF-16 surrogate, which is not valid Unicode';
  return undefined;
}

/**
 * Creates a frozen CloudEvents 1.0 event. Throws `EVENT_INVALID` when a required attribute is
 * empty, a text attribute holds a NUL or a lone surrogate, or `traceparent` is not W3C trace
 * context, so a bad envelope never reaches the outbox (nor aborts the caller's transaction).
 */
export function event<T>(init: EventInit<T>): HeraldEvent<T> {
  for (const name of ['source', 'type', 'partitionkey'] as const) {
    if (typeof init[name] !== 'string' || init[name].length === 0) {
      throw new HeraldError(ErrorCodes.EVENT_INVALID, `event attribute '${name}' must be a non-empty string`, {
        details: { attribute: name },
      });
    }
  }
  for (const name of ['source', 'type', 'partitionkey', 'subject', 'id', 'dataschema'] as const) {
    const value = init[name];
    if (value !== undefined && typeof value !== 'string') {
      throw new HeraldError(ErrorCodes.EVENT_INVALID, `event attribute '${name}' must be a string`, { details: { attribute: name } });
    }
    const problem = value === undefined ? undefined : unsafeText(value);
    if (problem !== undefined) {
      throw new HeraldError(ErrorCodes.EVENT_INVALID, `event attribute '${name}' ${problem}; remove it before appending`, {
        details: { attribute: name },
      });
    }
  }
  if (init.traceparent !== undefined && !TRACEPARENT.test(init.traceparent)) {
    throw new HeraldError(
      ErrorCodes.EVENT_INVALID,
      `event attribute 'traceparent' is not W3C trace context (00-<32 hex>-<16 hex>-<2 hex>)`,
      {
        details: { attribute: 'traceparent' },
      },
    );
  }
  const time = init.time instanceof Date ? init.time.toISOString() : (init.time ?? new Date().toISOString());
  return Object.freeze({
    specversion: '1.0',
    id: init.id ?? uuidv7(),
    source: init.source,
    type: init.type,
    time,
    ...(init.subject === undefined ? {} : { subject: init.subject }),
    datacontenttype: 'application/json',
    ...(init.dataschema === undefined ? {} : { dataschema: init.dataschema }),
    partitionkey: init.partitionkey,
    ...(init.traceparent === undefined ? {} : { traceparent: init.traceparent }),
    data: init.data,
  });
}
