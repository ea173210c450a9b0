import type { Contract } from '../contracts/contract.js';
import type { ContractRegistry } from '../contracts/registry.js';
import { HeraldError, ErrorCodes } from '../errors.js';
import { event, type HeraldEvent } from '../event.js';

/** One event to append: a contract id, its payload and optional envelope attributes. */
export interface AppendInput<T = unknown> {
  readonly contract: string;
  readonly data: T;
  /** Pin a contract version; default is the highest loaded version. */
  readonly version?: string;
  readonly subject?: string;
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
 * builds the envelope and the row. Pure: no I/O, so every store validates a whole batch before
 * it sends the first statement.
 */
export function buildOutboxRow(contracts: ContractRegistry, source: string, input: AppendInput): BuiltRow {
  const contract: Contract = contracts.get(input.contract, input.version);
  contracts.validate(contract, input.data);
  const key = (input.data as Record<string, unknown>)[contract.partitionKey];
  const e = event({
    source,
    type: contract.eventType,
    data: input.data,
    partitionkey: String(key),
    dataschema: contract.dataschema,
    ...(input.subject === undefined ? {} : { subject: input.subject }),
    ...(input.traceparent === undefined ? {} : { traceparent: input.traceparent }),
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
