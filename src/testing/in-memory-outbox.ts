import { HeraldError, ErrorCodes } from '../errors.js';
import type { HeraldEvent } from '../event.js';
import type { Publisher } from '../brokers/publisher.js';
import { Relay, type RelayOptions, type RelayStats } from '../relay/relay.js';
import type { RelayRecord, RelaySource } from '../relay/source.js';
import { waitUntilWoken } from '../relay/wake.js';
import { OutboxRowBuilder, type WriterOptions, type AppendInput, type BuiltRow } from '../store/outbox-rows.js';
import type { OutboxWriter } from '../store/port.js';

/** A transaction of an {@link InMemoryOutbox}: its appends become visible at `commit()`, and never after `rollback()`. */
export interface InMemoryTransaction {
  /** Makes this transaction's events pending, after every event committed before. */
  commit(): void;
  /** Drops this transaction's events. */
  rollback(): void;
  readonly open: boolean;
}

interface Entry {
  readonly position: string;
  readonly event: HeraldEvent;
  readonly topic: string;
  attempts: number;
  retryAt: number;
  lastError?: string;
}

/** A dead-lettered event of an {@link InMemoryOutbox}, with the error that put it there. */
export interface InMemoryDeadLetter {
  readonly event: HeraldEvent;
  readonly topic: string;
  readonly attempts: number;
  readonly lastError: string;
}

/**
 * A test double of a store's outbox for a service's own unit tests, so that handlers that append
 * events can be tested without a database. Same rules as the real stores: every event is validated
 * against its contract before anything is kept (`EVENT_INVALID`, nothing kept); events exist only
 * if their transaction commits; a handle that is not an open transaction of this outbox is refused
 * with `TRANSACTION_REQUIRED`; pending events are handed out in commit order, and a key whose
 * event waits for a retry holds back the rest of that key. {@link source} feeds the real
 * {@link Relay}. One relay at a time; nothing survives the process. Never a production store.
 */
export class InMemoryOutbox implements OutboxWriter {
  readonly #rows: OutboxRowBuilder;
  readonly #transactions = new WeakMap<object, BuiltRow[]>();
  readonly #pending: Entry[] = [];
  readonly #dead: InMemoryDeadLetter[] = [];
  #nextPosition = 1;
  #wake: (() => void) | undefined;

  constructor(options: WriterOptions) {
    this.#rows = new OutboxRowBuilder(options);
  }

  /** Opens a transaction; commit or roll it back yourself, or use {@link transaction}. */
  begin(): InMemoryTransaction {
    const state = { rows: [] as BuiltRow[], open: true };
    const finish = (commit: boolean): void => {
      if (!state.open)
        throw new HeraldError(ErrorCodes.TRANSACTION_REQUIRED, 'in-memory outbox: this transaction was already committed or rolled back');
      state.open = false;
      this.#transactions.delete(tx);
      if (!commit) return;
      for (const { event, row } of state.rows)
        this.#pending.push({ position: String(this.#nextPosition++), event, topic: row.topic, attempts: 0, retryAt: 0 });
      if (state.rows.length > 0) this.#wake?.();
    };
    const tx: InMemoryTransaction = {
      commit: () => finish(true),
      rollback: () => finish(false),
      get open() {
        return state.open;
      },
    };
    this.#transactions.set(tx, state.rows);
    return tx;
  }

  /** Runs `fn` in a transaction: commits when it resolves, rolls back (and rethrows) when it throws. */
  async transaction<T>(fn: (tx: InMemoryTransaction) => Promise<T> | T): Promise<T> {
    const tx = this.begin();
    try {
      const result = await fn(tx);
      tx.commit();
      return result;
    } catch (err) {
      if (tx.open) tx.rollback();
      throw err;
    }
  }

  async append<T>(
    tx: unknown,
    contract: string,
    data: T,
    attributes: Omit<AppendInput<T>, 'contract' | 'data'> = {},
  ): Promise<HeraldEvent<T>> {
    const [e] = await this.appendMany(tx, [{ ...attributes, contract, data }]);
    return e as HeraldEvent<T>;
  }

  async appendMany(tx: unknown, inputs: readonly AppendInput[]): Promise<HeraldEvent[]> {
    const rows = this.#rowsOf(tx);
    // Validate all, then keep all: an invalid event leaves the transaction as it was.
    const built = inputs.map((input) => this.#rows.build(input));
    // The stores serialise `data` as JSON; do it here too so a payload they would refuse fails the same way.
    for (const b of built) JSON.stringify(b.event.data);
    rows.push(...built);
    return built.map((b) => b.event);
  }

  /** Committed events not yet delivered, in commit order. */
  get pending(): HeraldEvent[] {
    return this.#pending.map((e) => e.event);
  }

  /** Events the relay gave up on, oldest first. */
  get deadLetters(): readonly InMemoryDeadLetter[] {
    return this.#dead;
  }

  /** A relay source over this outbox, for `new Relay({ source, publisher })`. */
  source(): RelaySource {
    return new InMemoryRelaySource(this.#pending, this.#dead, (wake) => (this.#wake = wake));
  }

  /**
   * Runs a real {@link Relay} over this outbox until nothing is pending (delivered or dead-lettered),
   * with short retry delays unless `options` say otherwise. Rejects after `timeoutMs` (default
   * 5000) with how many events are still pending, e.g. when the publisher never recovers.
   */
  async drain(
    publisher: Publisher,
    options: Omit<RelayOptions, 'source' | 'publisher'> & { readonly timeoutMs?: number } = {},
  ): Promise<RelayStats> {
    const { timeoutMs = 5000, ...relayOptions } = options;
    const relay = new Relay({ pollIntervalMs: 5, retryBaseMs: 1, retryMaxMs: 20, ...relayOptions, source: this.source(), publisher });
    const running = relay.run();
    const deadline = Date.now() + timeoutMs;
    let failure: unknown;
    running.catch((err: unknown) => (failure = err));
    while (this.#pending.length > 0 && failure === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
    await relay.stop();
    if (failure !== undefined) throw failure;
    if (this.#pending.length > 0) {
      throw new HeraldError(
        ErrorCodes.BROKER_UNAVAILABLE,
        `in-memory outbox: ${this.#pending.length} event(s) still pending after ${timeoutMs} ms of draining; does the publisher ever accept them?`,
        {
          retryable: true,
        },
      );
    }
    return relay.stats;
  }

  #rowsOf(tx: unknown): BuiltRow[] {
    const rows = typeof tx === 'object' && tx !== null ? this.#transactions.get(tx) : undefined;
    if (rows === undefined) {
      throw new HeraldError(
        ErrorCodes.TRANSACTION_REQUIRED,
        'in-memory outbox: expected an open transaction of this outbox: the tx of outbox.transaction(async (tx) => ...) or outbox.begin()',
      );
    }
    return rows;
  }
}

/** Hands out pending entries in commit order, holding back every key whose head waits for a retry. */
class InMemoryRelaySource implements RelaySource {
  readonly name = 'in-memory';
  readonly #pending: Entry[];
  readonly #dead: InMemoryDeadLetter[];
  readonly #onWake: (wake: (() => void) | undefined) => void;

  constructor(pending: Entry[], dead: InMemoryDeadLetter[], onWake: (wake: (() => void) | undefined) => void) {
    this.#pending = pending;
    this.#dead = dead;
    this.#onWake = onWake;
  }

  async start(): Promise<void> {}

  async next(max: number): Promise<RelayRecord[]> {
    const now = Date.now();
    const held = new Set(this.#pending.filter((e) => e.retryAt > now).map(keyOf));
    return this.#pending
      .filter((e) => !held.has(keyOf(e)))
      .slice(0, max)
      .map((e) => {
        const { data, ...event } = e.event;
        return { position: e.position, attempts: e.attempts, outgoing: { event, topic: e.topic, data: JSON.stringify(data) } };
      });
  }

  waitForWork(ms: number, signal: AbortSignal): Promise<void> {
    return waitUntilWoken(ms, signal, this.#onWake);
  }

  async delivered(records: readonly RelayRecord[]): Promise<void> {
    const done = new Set(records.map((r) => r.position));
    this.#remove((e) => done.has(e.position));
  }

  async retryLater(record: RelayRecord, error: string, delayMs: number): Promise<void> {
    const entry = this.#pending.find((e) => e.position === record.position);
    if (entry === undefined) return;
    entry.attempts++;
    entry.lastError = error;
    entry.retryAt = Date.now() + delayMs;
  }

  async deadLetter(record: RelayRecord, error: string): Promise<void> {
    const entry = this.#pending.find((e) => e.position === record.position);
    if (entry === undefined) return;
    this.#dead.push({ event: entry.event, topic: entry.topic, attempts: entry.attempts + 1, lastError: error });
    this.#remove((e) => e === entry);
  }

  async close(): Promise<void> {}

  #remove(match: (e: Entry) => boolean): void {
    for (let i = this.#pending.length - 1; i >= 0; i--) if (match(this.#pending[i]!)) this.#pending.splice(i, 1);
  }
}

function keyOf(e: Entry): string {
  return `${e.topic}\u0000${e.event.partitionkey}`;
}
