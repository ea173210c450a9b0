import type { ContractRegistry } from '../contracts/registry.js';
import type { OutgoingEvent, Publisher } from '../brokers/publisher.js';
import type { IncomingEvent } from '../brokers/subscriber.js';
import { HeraldError, ErrorCodes } from '../errors.js';
import { RowBuilder } from './rows.js';
import type { WarehouseSink } from './sink.js';
import { planTables } from './table-plan.js';
import { writeIsolating } from './write-isolating.js';

/** Options of {@link WarehousePublisher}. */
export interface WarehousePublisherOptions {
  readonly sink: WarehouseSink;
  readonly contracts: ContractRegistry;
  /** The HMAC key for personal data whose contract says `piiTreatment: hash`. */
  readonly piiKey?: Buffer;
}

/**
 * A relay destination that is a warehouse, with no broker in between: each event becomes a row
 * of its contract's typed table, exactly as `herald load` would write it (same tables, same
 * personal-data treatment, same load dead-letter table). `herald demo` uses it to run end to end
 * on embedded parts only.
 *
 * `publish` resolves after the warehouse commit; a redelivered event is skipped by its id; an
 * event that cannot load is put in the load dead-letter table rather than refused, so the relay
 * never dead-letters it. Warehouse failures reject with the sink's retryable `DATABASE_ERROR`.
 */
export class WarehousePublisher implements Publisher {
  readonly name = 'warehouse';
  readonly #options: WarehousePublisherOptions;
  #builder: RowBuilder | undefined;
  #closed = false;

  constructor(options: WarehousePublisherOptions) {
    this.#options = options;
  }

  /** Creates or evolves the tables of every contract; topics need nothing more. */
  async prepare(_topics: readonly string[]): Promise<void> {
    const { contracts, sink, piiKey } = this.#options;
    const plans = await sink.prepare(planTables(contracts.list(), piiKey === undefined ? {} : { piiKey }));
    this.#builder = new RowBuilder(contracts, plans, piiKey);
  }

  async publish(batch: readonly OutgoingEvent[]): Promise<void> {
    if (this.#closed) throw new HeraldError(ErrorCodes.CLOSED, `warehouse publisher (${this.#options.sink.name}) is closed`);
    if (!this.#builder) await this.prepare([]);
    await writeIsolating(this.#options.sink, this.#builder!.build(batch.map(toIncoming)));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#options.sink.close();
  }
}

function toIncoming(e: OutgoingEvent): IncomingEvent {
  const attributes: Record<string, string> = {};
  for (const [name, value] of Object.entries(e.event)) if (typeof value === 'string') attributes[name] = value;
  // No broker, so no broker position: the relay hands events over directly.
  return { topic: e.topic, position: 'relay', attributes, data: e.data };
}
