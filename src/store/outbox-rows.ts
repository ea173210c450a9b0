import type { Contract } from '../contracts/contract.js';
import type { ContractRegistry } from '../contracts/registry.js';
import { HeraldError, ErrorCodes } from '../errors.js';
import { event, type HeraldEvent } from '../event.js';
import { activeTracing, activeTraceparent, loadTracing } from '../observe/tracing.js';

/** One event to append: a contract id, its payload and optional envelope attributes. */
export interface AppendInput<T = unknown> {
  readonly contract: string;
  readonly data: T;
  /** Pin a contract version; default is the highest loaded version. */
  readonly version?: string;
  readonly subject?: string;
  /**
   * W3C trace context of the work that caused the event. When omitted and `@opentelemetry/api`
   * is installed, the active span's context is taken; otherwise the event has none.
   */
  readonly traceparent?: string;
}

/** The columns of one outbox row, the same on every store (`data` still a value, not JSON text). */
export interface OutboxRow {
  readonly event_id: string;
  readonly topic: string;
  readonly partition_key: string;
  readonly type: string;
  readonly source: string;
  readonly subject: string | null;
  readonly time: string;
  readonly dataschema: string | null;
  readonly traceparent: string | null;
  readonly data: unknown;
}

/** A validated event and the outbox row it becomes. */
export interface BuiltRow {
  readonly event: HeraldEvent;
  readonly row: OutboxRow;
}

/** Checks the CloudEvents `source` option once, for every store's writer. */
function checkSource(source: unknown): string {
  if (typeof source !== 'string' || source.length === 0) {
    throw new HeraldError(
      ErrorCodes.CONFIG_INVALID,
      "option 'source' must be the CloudEvents source of this service, e.g. '/orders-service'",
      {
        details: { option: 'source' },
      },
    );
  }
  return source;
}

/**
 * Validates `input` against its contract (throws `EVENT_INVALID` / `CONTRACT_NOT_FOUND`) and
 * builds the envelope and the row. No I/O, so every store validates a whole batch before it
 * sends the first statement. An input without `traceparent` gets the active span's context
 * when OpenTelemetry is loaded, so the relay and consumers can continue the caller's trace.
 */
function buildOutboxRow(contracts: ContractRegistry, source: string, input: AppendInput): BuiltRow {
  const contract: Contract = contracts.get(input.contract, input.version);
  contracts.validate(contract, input.data);
  const key = (input.data as Record<string, unknown>)[contract.partitionKey];
  const traceparent = input.traceparent ?? activeTraceparent(activeTracing());
  const e = event({
    source,
    type: contract.eventType,
    data: input.data,
    partitionkey: String(key),
    dataschema: contract.dataschema,
    ...(input.subject === undefined ? {} : { subject: input.subject }),
    ...(traceparent === undefined ? {} : { traceparent }),
  });
  return {
    event: e,
    row: outboxRowOf(e, contract.topic, e.data),
  };
}

/** The outbox columns of event `e` on `topic`, with `data` as given (a value, or JSON text). */
export function outboxRowOf(e: Omit<HeraldEvent, 'data'>, topic: string, data: unknown): OutboxRow {
  return {
    event_id: e.id,
    topic,
    partition_key: e.partitionkey,
    type: e.type,
    source: e.source,
    subject: e.subject ?? null,
    time: e.time,
    dataschema: e.dataschema ?? null,
    traceparent: e.traceparent ?? null,
    data,
  };
}

/**
 * The largest event, in bytes, a writer accepts by default: under Kafka's default
 * `message.max.bytes` (1048588) with room for the record's headers.
 */
export const defaultMaxEventBytes = 1_000_000;

/** What every store's writer is configured with. */
export interface WriterOptions {
  /** The contracts events are validated against before they are written. */
  readonly contracts: ContractRegistry;
  /** CloudEvents `source` of this service, e.g. `/orders-service`. */
  readonly source: string;
  /**
   * Refuse, at append, an event whose payload and attributes exceed this many bytes, so an event
   * the broker would refuse is never committed. Default {@link defaultMaxEventBytes}; set it to
   * your broker's limit (Kafka `message.max.bytes`, NATS `max_payload` 1 MiB, Pub/Sub 10 MB,
   * SNS 256 KiB, SQS 1 MiB).
   */
  readonly maxEventBytes?: number;
}

/**
 * Builds a store's outbox rows: the source and the size limit checked once, then every input
 * validated against its contract and its size before any SQL (see {@link buildOutboxRow}).
 */
export class OutboxRowBuilder {
  readonly #contracts: ContractRegistry;
  readonly #source: string;
  readonly #maxEventBytes: number;

  constructor(options: WriterOptions) {
    this.#contracts = options.contracts;
    this.#source = checkSource(options.source);
    const max = options.maxEventBytes ?? defaultMaxEventBytes;
    if (!Number.isInteger(max) || max < 1) {
      throw new HeraldError(ErrorCodes.CONFIG_INVALID, `option 'maxEventBytes' must be a positive integer, got ${String(max)}`, {
        details: { option: 'maxEventBytes' },
      });
    }
    this.#maxEventBytes = max;
    // Loading starts here so that the first append finds OpenTelemetry ready (when installed).
    void loadTracing();
  }

  /** {@link buildOutboxRow}, then `EVENT_INVALID` when the event is over `maxEventBytes`. */
  build(input: AppendInput): BuiltRow {
    const built = buildOutboxRow(this.#contracts, this.#source, input);
    const bytes = eventBytes(built.row);
    if (bytes > this.#maxEventBytes) {
      throw new HeraldError(
        ErrorCodes.EVENT_INVALID,
        `event for contract '${input.contract}' is ${bytes} bytes, over the limit of ${this.#maxEventBytes} bytes (maxEventBytes); ` +
          'raise it to what the broker accepts, or put the large part in storage and send a reference',
        { details: { contract: input.contract, bytes, maxEventBytes: this.#maxEventBytes } },
      );
    }
    return built;
  }
}

/** The bytes an event takes on the wire: its JSON payload and its attributes, as UTF-8. */
function eventBytes(row: OutboxRow): number {
  let bytes = Buffer.byteLength(JSON.stringify(row.data) ?? '');
  for (const v of [
    row.event_id,
    row.topic,
    row.partition_key,
    row.type,
    row.source,
    row.subject,
    row.time,
    row.dataschema,
    row.traceparent,
  ]) {
    if (v !== null) bytes += Buffer.byteLength(v);
  }
  return bytes;
}
