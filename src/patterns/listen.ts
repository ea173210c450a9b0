/**
 * The listen-to-yourself pattern: a service publishes its event to the broker only, then consumes
 * that event like any other consumer to change its own database. There is no dual write, because
 * the broker is the only place the service writes to first; the inbox makes applying the event
 * idempotent, so redelivery never applies it twice.
 */
import { countForTopic, type InboxTopicStats, type SelfConsumerObserver } from './consumer-observer.js';
import type { ContractRegistry } from '../contracts/registry.js';
import type { IncomingEvent, Subscriber, SubscriberBatch } from '../brokers/subscriber.js';
import { HeraldError, ErrorCodes, isHeraldError, messageOf } from '../errors.js';
import type { HeraldEvent } from '../event.js';
import type { Span } from '@opentelemetry/api';
import { silentLogger, type Logger } from '../observe/logger.js';
import { withProcessSpan } from '../observe/messaging-spans.js';
import { loadTracing, type Tracing } from '../observe/tracing.js';
import { isConnectionError, type PgClient } from '../postgres/connect.js';
import { backoffMs } from '../relay/backoff.js';
import { sleep } from '../relay/wake.js';
import type { InboxDeadLetter, InboxOptions } from '../postgres/inbox.js';
import { storeKindOf } from '../store/store-url.js';
import type { ConsumerDatabase } from './consumer-database.js';
import { PostgresConsumerDatabase } from '../postgres/consumer-database.js';
import { MysqlConsumerDatabase } from '../mysql/consumer-database.js';

/**
 * Applies one event to the service's database through `tx`, the connection inside the
 * transaction that also records the event in the inbox: a node-postgres client on PostgreSQL, a
 * mysql2 connection on MySQL/MariaDB (type it with `EventHandler<Connection>`). It must not
 * commit or roll back: the runtime does, so that the handler's writes and the inbox row commit
 * together. Throw to refuse the event: an error that is retryable (see {@link isRetryableError})
 * is retried with backoff, any other one dead-letters the event.
 */
export type EventHandler<Tx = PgClient> = (tx: Tx, event: HeraldEvent) => Promise<void>;

/** Handlers by CloudEvents `type`, e.g. `{ 'orders.order-placed': applyOrderPlaced }`. */
export type EventHandlers<Tx = PgClient> = Readonly<Record<string, EventHandler<Tx>>>;

/** Options of {@link SelfConsumer}; defaults in {@link selfConsumerDefaults}. */
export interface SelfConsumerOptions {
  /** Where the events come from; see `subscriberFor`. Its durable group is the unit of redelivery. */
  readonly subscriber: Subscriber;
  /** `postgres://` or `mysql://` URL of the service's database, which holds the inbox and the handlers' tables. */
  readonly database: string;
  /** The name the inbox records ids under; one per logical consumer (usually the group name). */
  readonly consumer: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tx is the store's connection type
  readonly handlers: EventHandlers<any>;
  /**
   * When given, every event must name (by `dataschema`) or match (by `type`, newest version) a
   * loaded contract and satisfy it, or it is dead-lettered; and every handler's event type must
   * have a contract, checked at construction. Without it, `data` only has to be JSON.
   */
  readonly contracts?: ContractRegistry;
  /** Where the inbox and the consumer dead-letter table live (PostgreSQL: `migrateInbox`; MySQL: `herald migrate`). */
  readonly inbox?: InboxOptions;
  readonly logger?: Logger;
  /** First delay after a retryable failure (lost connection, deadlock, unreachable broker), in ms. */
  readonly retryBaseMs?: number;
  /** Longest delay between retries, in ms. */
  readonly retryMaxMs?: number;
  readonly observer?: SelfConsumerObserver;
}

/** The defaults of {@link SelfConsumerOptions}, in one table. */
export const selfConsumerDefaults = { retryBaseMs: 500, retryMaxMs: 30_000 } as const;

/** Counters of a running {@link SelfConsumer}. */
export interface SelfConsumerStats {
  /** Batches committed and acknowledged (or whose acknowledgement failed after the commit). */
  batches: number;
  /** Messages received, redeliveries included. */
  received: number;
  /** Events whose handler ran and committed. */
  applied: number;
  /** Events skipped because the inbox already had their id (redeliveries, replays). */
  duplicates: number;
  /** Events recorded in the consumer dead-letter table. */
  deadLettered: number;
  /** Transactions or subscriptions that failed with a retryable error and were tried again. */
  retries: number;
}

/**
 * True for an error worth retrying rather than dead-lettering: a `HeraldError` (or any error)
 * with `retryable: true`, a lost database connection, a serialization failure (`40001`), a
 * deadlock (`40P01`, MySQL `ER_LOCK_DEADLOCK`) or a MySQL lock wait timeout.
 */
export function isRetryableError(err: unknown): boolean {
  if (isHeraldError(err)) return err.retryable;
  const code = (err as { code?: string } | null)?.code;
  return (
    (err as { retryable?: unknown } | null)?.retryable === true ||
    code === '40001' ||
    code === '40P01' ||
    code === 'ER_LOCK_DEADLOCK' ||
    code === 'ER_LOCK_WAIT_TIMEOUT' ||
    isConnectionError(err)
  );
}

/** An error thrown by a handler (or by the COMMIT of its writes), as opposed to by the runtime. */
class HandlerFailed extends Error {
  constructor(readonly failure: unknown) {
    super(messageOf(failure));
  }
}

/**
 * The listen-to-yourself consumer runtime: reads the service's own events and applies each one
 * to the service's database (PostgreSQL or MySQL/MariaDB) exactly once, through the inbox.
 *
 * - Per event: `BEGIN`; record the id in the inbox; if it is new, run the event type's handler
 *   on the same transaction; `COMMIT`. The batch is acknowledged to the broker only after every
 *   event of it has committed, so a crash anywhere means redelivery, and redelivery is skipped
 *   by the inbox: each event takes effect exactly once.
 * - Events are applied one at a time in the order the subscriber hands them out, so per-key
 *   order (Kafka partition, ordering key) is kept.
 * - An event without an id, without a handler, with data that is not JSON or that fails its
 *   contract, or whose handler throws a non-retryable error is recorded in the consumer
 *   dead-letter table with the reason (its id goes into the inbox in the same transaction, so a
 *   redelivery is not dead-lettered twice), and the batch continues. Nothing is dropped silently.
 * - A retryable failure (connection lost, deadlock, serialization failure, an unreachable broker,
 *   a handler error marked `retryable`) is retried with exponential backoff and jitter for as long
 *   as it takes, on a new connection when the old one broke; nothing is acknowledged meanwhile.
 *
 * **Read-your-own-writes caveat.** The service's database changes only when it consumes its own
 * event, some time after publishing: a read right after `publish()` resolves may not see the
 * change (an order just placed is not yet in `orders`). Answer the caller from the event itself,
 * or wait for the inbox to hold its id, not from a query of the tables the handler writes. This
 * is the pattern's price for having no dual write.
 *
 * **Tracing.** With `@opentelemetry/api` installed, each event is applied in a CONSUMER span
 * `process <topic>` whose parent is the event's `traceparent`, so the handler's queries join the
 * trace of the request that produced the event; a dead-lettered event sets the status ERROR.
 */
export class SelfConsumer {
  readonly stats: SelfConsumerStats = { batches: 0, received: 0, applied: 0, duplicates: 0, deadLettered: 0, retries: 0 };
  /** `applied`, `duplicates` (as `skipped`) and `deadLettered` of {@link stats}, split by topic. */
  readonly byTopic = new Map<string, InboxTopicStats>();
  readonly #options: SelfConsumerOptions & { retryBaseMs: number; retryMaxMs: number };
  readonly #db: ConsumerDatabase;
  readonly #log: Logger;
  readonly #stop = new AbortController();
  #prepared = false;
  #tracing: Tracing | undefined;

  constructor(options: SelfConsumerOptions) {
    this.#options = { ...selfConsumerDefaults, ...options };
    this.#log = options.logger ?? silentLogger;
    const kind = storeKindOf(options.database);
    if (kind === 'sqlite') invalid('database', 'a postgres:// or mysql:// URL: the inbox is not available on SQLite');
    this.#db =
      kind === 'mysql'
        ? new MysqlConsumerDatabase(options.database, options.inbox)
        : new PostgresConsumerDatabase(options.database, options.inbox);
    if (typeof options.consumer !== 'string' || options.consumer.length === 0) invalid('consumer', 'a non-empty string');
    if (options.subscriber === null || typeof options.subscriber !== 'object') invalid('subscriber', 'a Subscriber');
    const handlers: unknown = options.handlers;
    if (handlers === null || typeof handlers !== 'object' || Object.keys(handlers).length === 0) {
      invalid('handlers', 'an object mapping at least one event type to a handler function');
    }
    for (const [type, handler] of Object.entries(handlers)) {
      if (typeof handler !== 'function') invalid('handlers', `an object of functions; the handler of '${type}' is not one`);
    }
    for (const option of ['retryBaseMs', 'retryMaxMs'] as const) {
      const value = this.#options[option];
      if (!(Number.isInteger(value) && value > 0)) invalid(option, 'a positive integer');
    }
    const contracts = options.contracts;
    if (contracts) {
      for (const type of Object.keys(options.handlers)) {
        if (!contracts.forType(type)) invalid('handlers', `keyed by event types of loaded contracts; no contract has event type '${type}'`);
      }
    }
  }

  /** Connects the database, checks that the inbox tables exist (`NOT_MIGRATED` otherwise), and prepares the subscription. */
  async prepare(): Promise<void> {
    if (this.#prepared) return;
    await this.#db.check(this.#options.consumer);
    await this.#options.subscriber.prepare();
    this.#prepared = true;
    this.#options.observer?.prepared?.();
  }

  /**
   * Consumes until {@link stop} is called, then closes the database connection; rejects only for
   * an error retrying cannot fix (a missing inbox, a refused login, a deleted topic).
   */
  async run(): Promise<void> {
    try {
      await this.prepare();
      this.#tracing = await loadTracing();
      let outage = 0;
      while (!this.#stop.signal.aborted) {
        try {
          for await (const batch of this.#options.subscriber.batches(this.#stop.signal)) {
            outage = 0;
            await this.#consume(batch);
          }
        } catch (err) {
          // Asked to stop while a subscription or an event was failing: the batch in hand is not
          // acknowledged, so the broker hands it out again and the inbox skips what committed.
          if (this.#stop.signal.aborted) {
            this.#log.debug(`stopped while ${messageOf(err)}`);
            return;
          }
          if (!isRetryableError(err)) throw err;
          this.stats.retries++;
          this.#options.observer?.failed?.('broker', err);
          this.#log.warn(`subscription failed, retrying: ${messageOf(err)}`);
          await this.#sleep(backoffMs(++outage, this.#retry()));
        }
      }
    } finally {
      await this.#disconnect();
    }
  }

  /**
   * Asks `run` to finish: the rest of the batch in hand is applied, committed and acknowledged
   * first. An event that is failing with a retryable error is abandoned instead, leaving its
   * batch unacknowledged for the broker to hand out again.
   */
  stop(): void {
    this.#stop.abort();
  }

  /** Stops and closes the database connection; idempotent. The subscriber is the caller's to close. */
  async close(): Promise<void> {
    this.stop();
    await this.#disconnect();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #consume(batch: SubscriberBatch): Promise<void> {
    for (const incoming of batch.events) await this.#traced(incoming);
    this.stats.batches++;
    this.#options.observer?.batchApplied?.(batch.events.length);
    try {
      await batch.ack();
    } catch (err) {
      // Every event is committed; the broker will hand the batch out again and the inbox skips
      // it then. Stopping here would gain nothing.
      this.#log.warn(`cannot acknowledge an applied batch; it will be redelivered and skipped: ${messageOf(err)}`);
    }
    this.#log.debug('applied a batch', { events: batch.events.length });
  }

  /** Applies one event, in its span when tracing is on. */
  #traced(e: IncomingEvent): Promise<void> {
    if (this.#tracing === undefined) return this.#handle(e, undefined);
    const message = { id: e.attributes.id, topic: e.topic, traceparent: e.attributes.traceparent };
    const op = { system: this.#options.subscriber.name, messages: [message], group: this.#options.consumer };
    return withProcessSpan(this.#tracing, op, (span) => this.#handle(e, span));
  }

  async #handle(e: IncomingEvent, span: Span | undefined): Promise<void> {
    this.stats.received++;
    const a = e.attributes;
    const id = a.id || `${e.topic}@${e.position}`;
    const dead = (reason: string): InboxDeadLetter => ({
      eventId: id,
      topic: e.topic,
      position: e.position,
      eventType: a.type ?? null,
      dataschema: a.dataschema ?? null,
      reason,
      data: e.data,
    });
    const resolved = this.#resolve(e);
    if (typeof resolved === 'string') return this.#deadLetter(dead(resolved), span);
    const { event, handler } = resolved;
    try {
      const consumer = this.#options.consumer;
      const applied = await this.#transact(id, async (tx, handlerStarted) => {
        const outcome = await this.#db.processOnce(tx, consumer, id, () => {
          handlerStarted();
          return (handler as EventHandler<unknown>)(tx, event);
        });
        return outcome.applied;
      });
      if (applied) this.stats.applied++;
      else this.stats.duplicates++;
      span?.setAttribute('herald.inbox.duplicate', !applied);
      countForTopic(this.byTopic, e.topic, applied ? 'applied' : 'skipped');
    } catch (err) {
      if (!(err instanceof HandlerFailed)) throw err;
      // A driver's message may quote a value of the event (invalid input syntax for type uuid:
      // "..."); the row keeps it, next to the data, but the log line names only the SQLSTATE.
      const failed = `handler of event type '${event.type}' failed`;
      const code = (err.failure as { code?: unknown } | null)?.code;
      const logged = `${failed}${typeof code === 'string' ? ` (sqlstate ${code})` : ''}; the error is in ${this.#db.deadLetterTable}`;
      await this.#deadLetter(dead(`${failed}: ${messageOf(err.failure)}`), span, logged);
    }
  }

  /** The event and its handler, or the reason it cannot be applied. */
  #resolve(e: IncomingEvent): { event: HeraldEvent; handler: EventHandler } | string {
    const a = e.attributes;
    if (!a.id) return 'the message has no CloudEvents id (ce-id); it cannot be deduplicated';
    if (!a.type) return 'the message has no CloudEvents type (ce-type), so no handler can be chosen';
    const handler = Object.hasOwn(this.#options.handlers, a.type) ? this.#options.handlers[a.type] : undefined;
    if (!handler) return `consumer '${this.#options.consumer}' has no handler for event type '${a.type}'`;
    const contract = this.#options.contracts?.forEvent(a.dataschema, a.type);
    if (typeof contract === 'string') return contract;
    const what = contract ? `contract '${contract.id}' version ${contract.version}` : `type '${a.type}'`;
    let data: unknown;
    try {
      data = JSON.parse(e.data);
    } catch {
      return `data of an event of ${what} is not JSON`;
    }
    if (contract) {
      try {
        this.#options.contracts!.validate(contract, data);
      } catch (err) {
        return messageOf(err);
      }
    }
    const event: HeraldEvent = Object.freeze({
      specversion: '1.0',
      id: a.id,
      source: a.source ?? '',
      type: a.type,
      time: a.time ?? '',
      ...(a.subject === undefined ? {} : { subject: a.subject }),
      datacontenttype: 'application/json',
      ...(a.dataschema === undefined ? {} : { dataschema: a.dataschema }),
      partitionkey: a.partitionkey ?? '',
      ...(a.traceparent === undefined ? {} : { traceparent: a.traceparent }),
      data,
    });
    return { event, handler };
  }

  /** Records a dead letter; `logged` replaces the reason in the log line when that may quote event data. */
  async #deadLetter(letter: InboxDeadLetter, span: Span | undefined, logged = letter.reason): Promise<void> {
    // The span gets the log line's words, never the stored reason that may quote event data.
    if (span && this.#tracing) span.setStatus({ code: this.#tracing.api.SpanStatusCode.ERROR, message: `dead-lettered: ${logged}` });
    // No handler runs here, so a failure is the runtime's own and stops it (after retries).
    const recorded = await this.#transact(letter.eventId, (tx) => this.#db.deadLetter(tx, this.#options.consumer, letter));
    if (!recorded) {
      this.stats.duplicates++;
      countForTopic(this.byTopic, letter.topic, 'skipped');
      return;
    }
    this.stats.deadLettered++;
    countForTopic(this.byTopic, letter.topic, 'deadLettered');
    this.#log.warn(`dead-lettered event ${letter.eventId} from ${letter.topic}: ${logged}`);
  }

  /**
   * Runs `work` in its own transaction and commits it, retrying retryable failures; resolves
   * what `work` resolved (whether the event was applied or recorded, false when the inbox
   * already had its id). `work` calls `handlerStarted` when the handler's part begins: a
   * non-retryable failure from then on (the COMMIT included) rejects as {@link HandlerFailed},
   * one before it, from the runtime's own statements, rejects as is. Asked to stop while
   * retrying, it rejects with the last error and leaves the event to a redelivery.
   */
  async #transact(id: string, work: (tx: unknown, handlerStarted: () => void) => Promise<boolean>): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      let handlerStarted = false;
      try {
        return await this.#db.transaction(id, (tx) => work(tx, () => (handlerStarted = true)));
      } catch (err) {
        if (!isRetryableError(err) && !this.#db.isRetryable(err)) throw handlerStarted ? new HandlerFailed(err) : err;
        this.stats.retries++;
        this.#options.observer?.failed?.('database', err);
        this.#log.warn(`applying event ${id} failed, retrying: ${messageOf(err)}`);
        if (this.#stop.signal.aborted) throw err;
        await this.#sleep(backoffMs(attempt, this.#retry()));
        if (this.#stop.signal.aborted) throw err;
      }
    }
  }

  async #disconnect(): Promise<void> {
    await this.#db.close();
  }

  #retry(): { baseMs: number; maxMs: number } {
    return { baseMs: this.#options.retryBaseMs, maxMs: this.#options.retryMaxMs };
  }

  #sleep(ms: number): Promise<void> {
    return sleep(ms, this.#stop.signal);
  }
}

function invalid(option: string, rule: string): never {
  throw new HeraldError(ErrorCodes.CONFIG_INVALID, `consumer option '${option}' must be ${rule}`, { details: { option } });
}
