import type { Contract } from '../contracts/contract.js';
import type { ContractRegistry } from '../contracts/registry.js';
import { HeraldError, ErrorCodes } from '../errors.js';
import { event, type HeraldEvent } from '../event.js';
import { activeTracing, activeTraceparent } from '../observe/tracing.js';

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
export function checkSource(source: unknown): string {
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
export function buildOutboxRow(contracts: ContractRegistry, source: string, input: AppendInput): BuiltRow {
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
    row: {
      event_id: e.id,
      topic: contract.topic,
      partition_key: e.partitionkey,
      type: e.type,
      source: e.source,
      subject: e.subject ?? null,
      time: e.time,
      dataschema: e.dataschema ?? null,
      traceparent: e.traceparent ?? null,
      data: e.data,
    },
  };
}
