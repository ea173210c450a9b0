import type { ContractRegistry } from '../contracts/registry.js';
import type { Subscriber, SubscriberBatch } from '../brokers/subscriber.js';
import { HeraldError, ErrorCodes, isHeraldError, messageOf } from '../errors.js';
import { silentLogger, type Logger } from '../observe/logger.js';
import { withProcessSpan } from '../observe/messaging-spans.js';
import { loadTracing, type Tracing } from '../observe/tracing.js';
import { backoffMs } from '../relay/backoff.js';
import { sleep } from '../relay/wake.js';
import { RowBuilder, type LoadBatch } from './rows.js';
import { writeIsolating } from './write-isolating.js';
import type { WarehouseSink, WriteResult } from './sink.js';
import { planTables, type TablePlan } from './table-plan.js';

/** Options of {@link Loader}; defaults in {@link loaderDefaults}. */
export interface LoaderOptions {
  readonly subscriber: Subscriber;
  readonly sink: WarehouseSink;
  readonly contracts: ContractRegistry;
  /** The HMAC key for personal data whose contract says `piiTreatment: hash` (the default). */
  readonly piiKey?: string | Buffer;
  readonly logger?: Logger;
  /** First delay after a failed write or an unreachable broker, in ms. */
  readonly retryBaseMs?: number;
  /** Longest delay between retries, in ms. */
  readonly retryMaxMs?: number;
  /** Told of each loaded batch and each failure, for metrics and readiness; must not throw. */
  readonly observer?: LoaderObserver;
}

/** What a {@link Loader} tells its observer; every hook is optional and called synchronously. */
export interface LoaderObserver {
  /** The tables are ready and the subscription is connected. */
  prepared?(): void;
  /** A batch was committed (and its acknowledgement attempted); `seconds` is the warehouse write. */
  batchLoaded?(events: number, seconds: number): void;
  /** The subscription (`broker`) or a warehouse write (`warehouse`) failed and will be retried. */
  failed?(where: 'broker' | 'warehouse', err: unknown): void;
}

/** Per table: rows new in it, and rows skipped because their event id was already loaded. */
export interface LoaderTableStats {
  inserted: number;
  duplicates: number;
}

/** The defaults of {@link LoaderOptions}, in one table. */
export const loaderDefaults = { retryBaseMs: 500, retryMaxMs: 30_000 } as const;

/** Counters of a running loader. */
export interface LoaderStats {
  batches: number;
  /** Messages received, redeliveries included. */
  received: number;
  /** Rows new in their table. */
  inserted: number;
  /** Rows skipped because their event id was already loaded. */
  duplicates: number;
  deadLettered: number;
  /** Writes or subscriptions that failed and were retried. */
  retries: number;
}

/**
 * The warehouse loader: broker subscription → one typed table per contract.
 *
 * - Exactly-once effect: a batch is acknowledged to the broker only after the warehouse
 *   transaction that holds it has committed, and a row whose event id is already loaded is
 *   skipped. A crash anywhere means redelivery, never loss, and redelivery never adds a row.
 * - Bad events (no contract, not JSON, failing the contract, a value the column cannot take) go
 *   to the load dead-letter table with the reason, in the same transaction; the rest load.
 * - A failing warehouse or broker is retried with exponential backoff and jitter, for as long as
 *   it takes; nothing is acknowledged meanwhile.
 * - The tables are planned and evolved before anything is consumed: an incompatible contract
 *   version stops the loader at start (`SCHEMA_INCOMPATIBLE`), not halfway through a topic.
 * - Tracing: with `@opentelemetry/api` installed, each batch is loaded in a CONSUMER span
 *   `process <topic>`: the child of the event's `traceparent` for a batch of one, otherwise a
 *   trace of its own linked to every event's; a failed write is recorded on it (status ERROR).
 */
export class Loader {
  readonly stats: LoaderStats = { batches: 0, received: 0, inserted: 0, duplicates: 0, deadLettered: 0, retries: 0 };
  /** `stats.inserted` and `stats.duplicates` split by table name (tables appear once written to). */
  readonly tables = new Map<string, LoaderTableStats>();
  /** `stats.deadLettered` split by topic (when the sink reports it). */
  readonly deadLetteredByTopic = new Map<string, number>();
  readonly #options: LoaderOptions & { retryBaseMs: number; retryMaxMs: number };
  readonly #log: Logger;
  readonly #stop = new AbortController();
  #plans: TablePlan[] | undefined;
  #tracing: Tracing | undefined;

  constructor(options: LoaderOptions) {
    this.#options = { ...loaderDefaults, ...options };
    this.#log = options.logger ?? silentLogger;
  }

  /** Plans, creates and evolves the tables, then connects the subscription. Returns the tables. */
  async prepare(): Promise<readonly TablePlan[]> {
    if (this.#plans) return this.#plans;
    const plans = planTables(this.#options.contracts.list(), { piiKey: this.#key() });
    this.#plans = await this.#options.sink.prepare(plans);
    await this.#options.subscriber.prepare();
    this.#options.observer?.prepared?.();
    return this.#plans;
  }

  /** Loads until {@link stop} is called; rejects only for an error retrying cannot fix. */
  async run(): Promise<void> {
    const plans = await this.prepare();
    this.#tracing = await loadTracing();
    const builder = new RowBuilder(this.#options.contracts, plans, this.#key());
    let outage = 0;
    while (!this.#stop.signal.aborted) {
      try {
        for await (const batch of this.#options.subscriber.batches(this.#stop.signal)) {
          outage = 0;
          await this.#traced(builder, batch);
        }
      } catch (err) {
        // Asked to stop: whatever failed meanwhile (a subscription torn down while joining, a
        // write cut short) leaves its batch unacknowledged, which the broker hands out again.
        if (this.#stop.signal.aborted) {
          this.#log.debug(`stopped while ${messageOf(err)}`);
          return;
        }
        if (!(isHeraldError(err) && err.retryable)) throw err;
        this.stats.retries++;
        this.#options.observer?.failed?.('broker', err);
        this.#log.warn(`subscription failed, retrying: ${messageOf(err)}`);
        await this.#sleep(backoffMs(++outage, this.#retry()));
      }
    }
  }

  /** Asks `run` to finish: the batch being written is completed and acknowledged first. */
  stop(): void {
    this.#stop.abort();
  }

  /** Loads one batch, in its span when tracing is on. */
  #traced(builder: RowBuilder, batch: SubscriberBatch): Promise<void> {
    if (this.#tracing === undefined) return this.#load(builder, batch);
    const messages = batch.events.map((e) => ({ id: e.attributes.id, topic: e.topic, traceparent: e.attributes.traceparent }));
    return withProcessSpan(this.#tracing, { system: this.#options.subscriber.name, messages }, () => this.#load(builder, batch));
  }

  async #load(builder: RowBuilder, batch: SubscriberBatch): Promise<void> {
    const load = builder.build(batch.events);
    const started = performance.now();
    const result = await this.#writeUntilDone(load);
    const seconds = (performance.now() - started) / 1000;
    this.stats.batches++;
    this.stats.received += batch.events.length;
    this.stats.inserted += result.inserted;
    // A redelivered copy within one batch is a duplicate too, skipped before the warehouse.
    const duplicates = result.duplicates + (load.repeated ?? 0);
    this.stats.duplicates += duplicates;
    this.stats.deadLettered += result.deadLettered;
    for (const [table, counts] of Object.entries(result.tables ?? {})) {
      const t = this.tables.get(table) ?? { inserted: 0, duplicates: 0 };
      t.inserted += counts.inserted;
      t.duplicates += counts.duplicates + (load.repeatedByTable?.[table] ?? 0);
      this.tables.set(table, t);
    }
    for (const [topic, n] of Object.entries(result.deadLetteredByTopic ?? {})) {
      this.deadLetteredByTopic.set(topic, (this.deadLetteredByTopic.get(topic) ?? 0) + n);
    }
    for (const d of load.deadLetters) this.#log.warn(`dead-lettered event ${d.id} from ${d.topic}: ${d.reason}`);
    // Told with the counters, before the ack: whoever reads the counts sees the batch's duration too.
    this.#options.observer?.batchLoaded?.(batch.events.length, seconds);
    try {
      await batch.ack();
    } catch (err) {
      // The rows are committed; the broker will hand the batch out again, and the duplicates
      // are skipped then. Stopping here would gain nothing.
      this.#log.warn(`cannot acknowledge a loaded batch; it will be redelivered and skipped: ${messageOf(err)}`);
    }
    this.#log.debug(`loaded a batch`, {
      events: batch.events.length,
      inserted: result.inserted,
      duplicates,
      deadLettered: result.deadLettered,
    });
  }

  /** Writes the batch, retrying the warehouse until it succeeds. */
  async #writeUntilDone(load: LoadBatch): Promise<WriteResult> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await writeIsolating(this.#options.sink, load);
      } catch (err) {
        if (!(isHeraldError(err) && err.retryable)) throw err;
        this.stats.retries++;
        this.#options.observer?.failed?.('warehouse', err);
        this.#log.warn(`warehouse write failed, retrying: ${messageOf(err)}`);
        // Asked to stop: leaving is safe, as the batch is not acknowledged.
        if (this.#stop.signal.aborted) throw err;
        await this.#sleep(backoffMs(attempt, this.#retry()));
      }
    }
  }

  #retry(): { baseMs: number; maxMs: number } {
    return { baseMs: this.#options.retryBaseMs, maxMs: this.#options.retryMaxMs };
  }

  #key(): Buffer | undefined {
    const key = this.#options.piiKey;
    if (key === undefined || key.length === 0) return undefined;
    if (key.length < 16) {
      throw new HeraldError(
        ErrorCodes.CONFIG_INVALID,
        "option 'piiKey' must be at least 16 bytes; generate one with: openssl rand -hex 32",
        {
          details: { option: 'piiKey' },
        },
      );
    }
    return typeof key === 'string' ? Buffer.from(key, 'utf8') : key;
  }

  #sleep(ms: number): Promise<void> {
    return sleep(ms, this.#stop.signal);
  }
}
