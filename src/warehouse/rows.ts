import type { Contract } from '../contracts/contract.js';
import type { ContractRegistry } from '../contracts/registry.js';
import type { IncomingEvent } from '../brokers/subscriber.js';
import { messageOf } from '../errors.js';
import { compileColumn, type ColumnReader } from './columns.js';
import { hasPersonalData, protectPayload } from './pii.js';
import { metaColumns, type TablePlan } from './table-plan.js';

/** One row: the values of {@link metaColumns} then of the plan's columns, as text or null. */
export interface LoadRow {
  readonly eventId: string;
  readonly values: readonly (string | null)[];
}

/** An event that cannot load, kept with the reason in the load dead-letter table. */
export interface DeadLetter {
  /** The event id, or `<topic>@<position>` when the message has none. */
  readonly id: string;
  readonly topic: string;
  readonly position: string;
  readonly eventType: string | null;
  readonly dataschema: string | null;
  /** Why it cannot load; names the contract, version and JSON path, never a value. */
  readonly reason: string;
  /**
   * The payload with its contract's personal properties protected; as received when no contract
   * is known; null when it is not JSON and its contract has personal properties.
   */
  readonly data: string | null;
}

/** What one warehouse transaction writes. */
export interface LoadBatch {
  readonly rows: ReadonlyMap<TablePlan, readonly LoadRow[]>;
  readonly deadLetters: readonly DeadLetter[];
  /** Events of the batch left out because an earlier event of the same batch had their id. */
  readonly repeated?: number;
  /** Of `repeated`, per table name: the copies of events whose first copy became a row of that table. */
  readonly repeatedByTable?: Readonly<Record<string, number>>;
}

/** The values {@link RowBuilder} writes first, in {@link metaColumns} order. */
const META_WIDTH = metaColumns.length;

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/;

/**
 * Turns received events into rows of their contract's table, or dead letters. The contract is
 * the one the event's `dataschema` names, or else the newest version whose event type matches.
 * Within one batch an event id counts once (the first wins), as it does across batches through
 * the table's primary key.
 */
export class RowBuilder {
  readonly #registry: ContractRegistry;
  readonly #key: Buffer | undefined;
  readonly #tableOf = new Map<Contract, TablePlan>();
  /** Per contract version, one reader per data column of its table, prepared once. */
  readonly #readersOf = new Map<Contract, readonly ColumnReader[]>();

  /** `plans` are the tables as the sink prepared them; `key` hashes personal data. */
  constructor(registry: ContractRegistry, plans: readonly TablePlan[], key: Buffer | undefined) {
    this.#registry = registry;
    this.#key = key;
    for (const plan of plans) {
      for (const version of plan.versions) {
        this.#tableOf.set(version, plan);
        const own = plan.ownFields.get(version)!;
        this.#readersOf.set(
          version,
          plan.columns.map((c) => compileColumn(c.type, own.get(c.name), key)),
        );
      }
    }
  }

  /** Builds one batch; never throws for a bad event, which becomes a dead letter instead. */
  build(events: readonly IncomingEvent[]): LoadBatch {
    const rows = new Map<TablePlan, LoadRow[]>();
    const deadLetters: DeadLetter[] = [];
    // Event id → the table its first copy went to (null: it became a dead letter).
    const seen = new Map<string, string | null>();
    const repeatedByTable: Record<string, number> = {};
    let repeated = 0;
    for (const e of events) {
      const id = e.attributes.id || `${e.topic}@${e.position}`;
      if (seen.has(id)) {
        repeated++;
        const table = seen.get(id);
        if (table) repeatedByTable[table] = (repeatedByTable[table] ?? 0) + 1;
        continue;
      }
      const outcome = this.#row(e, id);
      seen.set(id, 'reason' in outcome ? null : outcome.plan.table);
      if ('reason' in outcome) deadLetters.push(outcome);
      else {
        const list = rows.get(outcome.plan) ?? [];
        list.push(outcome.row);
        rows.set(outcome.plan, list);
      }
    }
    return { rows, deadLetters, repeated, repeatedByTable };
  }

  #row(e: IncomingEvent, id: string): { plan: TablePlan; row: LoadRow } | DeadLetter {
    const a = e.attributes;
    if (!a.id) return this.#dead(e, id, 'the message has no CloudEvents id (ce-id); it cannot be deduplicated');
    const contract = this.#registry.forEvent(a.dataschema, a.type);
    if (typeof contract === 'string') return this.#dead(e, id, contract);
    const plan = this.#tableOf.get(contract);
    if (plan === undefined) return this.#dead(e, id, `contract '${contract.id}' version ${contract.version} has no warehouse table here`);
    let data: unknown;
    try {
      data = JSON.parse(e.data);
    } catch {
      return this.#dead(e, id, `data of an event of contract '${contract.id}' version ${contract.version} is not JSON`, contract);
    }
    try {
      this.#registry.validate(contract, data);
    } catch (err) {
      return this.#dead(e, id, messageOf(err), contract, { value: data });
    }
    if (a.time !== undefined && !(RFC3339.test(a.time) && !Number.isNaN(Date.parse(a.time)))) {
      return this.#dead(e, id, `event time of an event of contract '${contract.id}' is not an RFC 3339 timestamp`, contract, {
        value: data,
      });
    }
    const record = data as Record<string, unknown>;
    const readers = this.#readersOf.get(contract)!;
    const values = new Array<string | null>(META_WIDTH + readers.length);
    values[0] = a.id;
    values[1] = a.type ?? null;
    values[2] = a.source ?? null;
    values[3] = a.subject ?? null;
    values[4] = a.partitionkey ?? null;
    values[5] = a.time ?? null;
    values[6] = contract.version;
    values[7] = e.topic;
    values[8] = e.position;
    values[9] = a.traceparent ?? null;
    for (let i = 0; i < readers.length; i++) values[META_WIDTH + i] = readers[i]!(record);
    return { plan, row: { eventId: a.id, values } };
  }

  #dead(e: IncomingEvent, id: string, reason: string, contract?: Contract, parsed?: { value: unknown }): DeadLetter {
    const a = e.attributes;
    return {
      id,
      topic: e.topic,
      position: e.position,
      eventType: a.type ?? null,
      dataschema: a.dataschema ?? null,
      reason,
      data: this.#keptData(e.data, contract, parsed),
    };
  }

  #keptData(raw: string, contract: Contract | undefined, parsed: { value: unknown } | undefined): string | null {
    if (contract === undefined) return raw;
    if (!hasPersonalData(contract.properties)) return raw;
    if (parsed === undefined) return null;
    return JSON.stringify(protectPayload(contract.properties, parsed.value, this.#key));
  }
}
