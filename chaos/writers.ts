// The chaos suite's writers: in-process PostgreSQL clients appending events with Herald's
// PostgresOutbox, and a ledger of what they know: committed, rolled back, or unknown (the
// connection broke while COMMIT was in flight).
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { ContractRegistry } from '../src/contracts/registry.js';
import { parseContract } from '../src/contracts/load.js';
import { PostgresOutbox } from '../src/postgres/outbox.js';
import type { CommittedEvent } from './checker.js';
import { sleep } from './util.js';

const CONTRACT = readFileSync(new URL('./contracts/chaos-event.v1.yaml', import.meta.url), 'utf8');

/** The chaos contract routed to `topic`. */
export function chaosContracts(topic: string): ContractRegistry {
  return new ContractRegistry([parseContract(CONTRACT.replace('value: chaos.events', `value: ${topic}`), 'chaos-event.v1.yaml')]);
}

/** What the workload does; every field has a default in {@link workloadDefaults}. */
export interface WorkloadOptions {
  /** Concurrent writers; each owns its own keys, so per-key commit order is its order. */
  readonly writers: number;
  readonly keysPerWriter: number;
  /** Transactions per second of each writer (open loop is not needed: this is a correctness suite). */
  readonly txPerSecond: number;
  /** Events per transaction, each for the writer's next key in turn. */
  readonly eventsPerTx: number;
  /** Fraction of transactions that append and then ROLLBACK (0..1). */
  readonly rollbackRatio: number;
  /**
   * Writer 0 holds every n-th transaction open this long after appending (it owns a lower outbox
   * id while the others commit higher ones): commits out of id order. 0: never.
   */
  readonly longTxHoldMs: number;
  readonly longTxEvery: number;
  /**
   * A personal-data canary: when set, every event carries `contactEmail` =
   * `<canary>+<key>@example.com`, a field the chaos contract marks PII (masked in the warehouse).
   */
  readonly piiCanary?: string;
}

/** Defaults of {@link WorkloadOptions}: 3 writers × 4 keys, 20 tx/s each, 2 events per tx. */
export const workloadDefaults: WorkloadOptions = {
  writers: 3,
  keysPerWriter: 4,
  txPerSecond: 20,
  eventsPerTx: 2,
  rollbackRatio: 0.1,
  longTxHoldMs: 0,
  longTxEvery: 10,
};

/** What the writers know. Read it after {@link WriterPool.stop}. */
export interface Ledger {
  readonly committed: CommittedEvent[];
  readonly rolledBack: string[];
  readonly uncertain: string[];
  /** Transactions that failed before COMMIT (their events do not exist); counted, retried. */
  failedBeforeCommit: number;
}

/**
 * Runs the workload against `url` until {@link stop}. A writer whose connection fails reconnects
 * (PostgreSQL may be restarting) and carries on with the next sequence number, so a key's
 * sequence numbers always grow in that key's commit order.
 */
export class WriterPool {
  readonly ledger: Ledger = { committed: [], rolledBack: [], uncertain: [], failedBeforeCommit: 0 };
  readonly #options: WorkloadOptions;
  readonly #url: string;
  readonly #outbox: PostgresOutbox;
  #stopping = false;
  #running: Promise<void>[] = [];

  constructor(url: string, schema: string, topic: string, options: Partial<WorkloadOptions> = {}) {
    this.#options = { ...workloadDefaults, ...options };
    this.#url = url;
    this.#outbox = new PostgresOutbox({ contracts: chaosContracts(topic), source: '/herald-chaos', schema });
  }

  /** Starts every writer. */
  start(): void {
    for (let w = 0; w < this.#options.writers; w++) this.#running.push(this.#writer(w));
  }

  /** Stops after each writer's transaction in flight; resolves with the ledger. */
  async stop(): Promise<Ledger> {
    this.#stopping = true;
    await Promise.all(this.#running);
    this.#running = [];
    return this.ledger;
  }

  async #writer(w: number): Promise<void> {
    const o = this.#options;
    const keys = Array.from({ length: o.keysPerWriter }, (_, k) => `w${w}-k${k}`);
    const seqs = new Map(keys.map((k) => [k, 0]));
    let client: pg.Client | undefined;
    let turn = 0;
    let tx = 0;
    const period = 1000 / o.txPerSecond;
    while (!this.#stopping) {
      const started = Date.now();
      try {
        if (!client) {
          client = new pg.Client({ connectionString: this.#url, connectionTimeoutMillis: 3_000 });
          client.on('error', () => undefined);
          await client.connect();
        }
        tx++;
        const inputs = Array.from({ length: o.eventsPerTx }, () => {
          const key = keys[turn++ % keys.length]!;
          const seq = seqs.get(key)!;
          seqs.set(key, seq + 1);
          const contact = o.piiCanary === undefined ? {} : { contactEmail: `${o.piiCanary}+${key}@example.com` };
          return { contract: 'chaos.event', data: { key, seq, writer: w, ...contact } };
        });
        const rollback = Math.random() < o.rollbackRatio;
        const long = w === 0 && o.longTxHoldMs > 0 && tx % o.longTxEvery === 0;
        await this.#transaction(client, inputs, rollback, long ? o.longTxHoldMs : 0);
      } catch {
        // The connection is suspect after any failure: start again on a new one.
        await client?.end().catch(() => undefined);
        client = undefined;
        await sleep(200);
      }
      const wait = period - (Date.now() - started);
      if (wait > 0) await sleep(wait);
    }
    await client?.end().catch(() => undefined);
  }

  async #transaction(
    client: pg.Client,
    inputs: { contract: string; data: { key: string; seq: number; writer: number; contactEmail?: string } }[],
    rollback: boolean,
    holdMs: number,
  ): Promise<void> {
    let events;
    try {
      await client.query('BEGIN');
      events = await this.#outbox.appendMany(client, inputs);
      if (holdMs > 0) await sleep(holdMs);
    } catch (err) {
      this.ledger.failedBeforeCommit++;
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
    if (rollback) {
      // Recorded first: even if ROLLBACK gets no answer, nothing was committed.
      for (const e of events) this.ledger.rolledBack.push(e.id);
      await client.query('ROLLBACK');
      return;
    }
    try {
      await client.query('COMMIT');
    } catch (err) {
      // No answer to COMMIT: it may or may not have happened.
      for (const e of events) this.ledger.uncertain.push(e.id);
      throw err;
    }
    const at = Date.now();
    events.forEach((e, i) => {
      const { key, seq } = inputs[i]!.data;
      this.ledger.committed.push({ id: e.id, key, seq, committedAtMs: at });
    });
  }
}
