// Herald benchmark: the two relay sources side by side, on the same PostgreSQL, the same Kafka
// broker and the same publisher settings, in one run.
//
//   polling        PollingSource: SELECT / DELETE on the outbox table, woken by LISTEN/NOTIFY
//   logical-table  LogicalSource: the outbox table's inserts, streamed from a pgoutput slot
//   logical-wal    LogicalSource: pg_logical_emit_message events (PostgresOutbox mode 'wal')
//
// Part 1 (drain): how fast each source empties a backlog, in events/s (goal: logical >= 2x polling).
// Part 2 (latency): COMMIT -> Kafka consumer latency at constant open-loop rates, by default
// 10,000 events/s and 70% of each source's drain maximum measured in part 1 (goal: p99 <= 50 ms).
//
//   node --import tsx bench/relay-source-bench.ts [--only drain|latency] [--events 50000] ...
//   npx tsx bench/relay-source-bench.ts --help
//
// stdout: one JSON line per part (starts with '{'), followed by a short table. Progress: stderr.
import { fork, type ChildProcess } from 'node:child_process';
import { performance, monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { build as buildHistogram, type Histogram } from 'hdr-histogram-js';
import pg from 'pg';
import { migratePostgres, PollingSource, PostgresOutbox, Relay, type AppendInput, type RelaySource } from '../src/index.js';
import { KafkaPublisher } from '../src/brokers/kafka/publisher.js';
import type { Publisher } from '../src/brokers/publisher.js';
import { isConnectionError } from '../src/postgres/connect.js';
import { cpuMeter, perThousand, type CpuUse } from './cpu-accounting.js';
import { logicalNames } from '../src/postgres/logical-setup.js';
import { LogicalSource } from '../src/postgres/logical-source.js';
import {
  BenchError,
  checkKafka,
  cleanups,
  CONTRACT,
  deferCleanup,
  kafkaAdmin,
  kafkaModule,
  log,
  machineFacts,
  median,
  messageOf,
  orderContracts,
  payloadOf,
  pgConnect,
  printResult,
  readSettings,
  relayOrder,
  round1,
  round3,
  runBench,
  SERVICE_SETTINGS,
  SOURCE,
  stderrLogger,
  suffix,
  table,
  withTimeout,
  type Machine,
  type Setting,
} from './common.js';

// ------------------------------------------------------------------------------ configuration

/**
 * The latency writer commits at most this many transactions per second (one Node process with
 * synchronous commits on a small machine cannot do many more); above it, each transaction
 * carries several events so that the event rate is still the one asked for.
 */
const MAX_TX_RATE = 1000;
/** `auto` without a drain run to derive it from (--only latency and no --max-rates) is this. */
const RATE_FALLBACK = 500;
/** Events per transaction in the drain backlog. */
const TX_EVENTS = 100;
const PARTITIONS = 4;

// BENCH_PG and BENCH_KAFKA mean the same as for outbox-bench; the others have their own names,
// because e.g. BENCH_ONLY takes other values there.
const SETTINGS = {
  ...SERVICE_SETTINGS,
  only: { env: 'BENCH_SOURCES_ONLY', fallback: 'all', help: 'which part to run: drain, latency or all' },
  events: { env: 'BENCH_SOURCES_EVENTS', fallback: '50000', help: 'events in the backlog of each drain' },
  rounds: { env: 'BENCH_SOURCES_ROUNDS', fallback: '3', help: 'drain rounds of the three variants (median is reported)' },
  batch: { env: 'BENCH_SOURCES_BATCH', fallback: '500', help: 'relay batchSize (both parts)' },
  rate: {
    env: 'BENCH_SOURCES_RATE',
    fallback: '10000,70%',
    help:
      `latency writer rates, comma-separated: events/s, P% (of each source's drain maximum in this run), or auto ` +
      `(half the slower logical drain rate); transactions of ceil(rate/${MAX_TX_RATE}) events`,
  },
  'max-rates': {
    env: 'BENCH_SOURCES_MAX_RATES',
    fallback: 'none',
    help: 'with --only latency: the drain maxima for P% rates, e.g. polling=9000,logicalTable=12000,logicalWal=15000',
  },
  warmup: { env: 'BENCH_SOURCES_WARMUP', fallback: '2000', help: 'events of the untimed warm-up drain of each variant' },
  seconds: { env: 'BENCH_SOURCES_SECONDS', fallback: '20', help: 'how long the latency writer runs, per variant' },
  writers: { env: 'BENCH_SOURCES_WRITERS', fallback: '4', help: 'connections of the latency writer' },
  'latency-variants': {
    env: 'BENCH_SOURCES_LATENCY_VARIANTS',
    fallback: 'all',
    help: 'the sources the latency part runs, comma-separated (polling, logicalTable, logicalWal) or all; e.g. one alone under --cpu-prof',
  },
  publisher: {
    env: 'BENCH_SOURCES_PUBLISHER',
    fallback: 'kafka',
    help: "drain into 'kafka', or 'discard' (a publisher that drops every batch: the sources' own ceiling)",
  },
  transactions: {
    env: 'BENCH_SOURCES_TRANSACTIONS',
    fallback: 'yes',
    help: "Kafka transactions, one per batch (yes, the relay's default) or the idempotent producer alone (no)",
  },
} satisfies Record<string, Setting>;

interface Config {
  pg: string;
  kafka: string;
  only: 'drain' | 'latency' | 'all';
  events: number;
  rounds: number;
  batch: number;
  rates: readonly RateSpec[];
  maxRates: Record<VariantName, number> | undefined;
  warmup: number;
  seconds: number;
  writers: number;
  latencyVariants: ReadonlySet<VariantName>;
  publisher: 'kafka' | 'discard';
  transactions: boolean;
}

function yesNo(name: string, text: string): boolean {
  if (text !== 'yes' && text !== 'no') throw new BenchError(`--${name} must be yes or no, got '${text}'`);
  return text === 'yes';
}

function readConfig(): Config {
  const { get, int } = readSettings(SETTINGS, 'bench/relay-source-bench.ts');
  const only = get('only');
  if (only !== 'drain' && only !== 'latency' && only !== 'all')
    throw new BenchError(`--only (BENCH_SOURCES_ONLY) must be drain, latency or all, got '${only}'`);
  const rate = (text: string): RateSpec => {
    if (text === 'auto') return { kind: 'auto' };
    const percent = /^(\d+(?:\.\d+)?)%$/.exec(text);
    if (percent) return { kind: 'percent', percent: Number(percent[1]) };
    const v = Number(text);
    if (!Number.isInteger(v) || v < 1)
      throw new BenchError(`--rate (BENCH_SOURCES_RATE) takes events/s, P% or auto, comma-separated; got '${text}'`);
    return { kind: 'fixed', rate: v };
  };
  const maxRates = (text: string): Record<VariantName, number> | undefined => {
    if (text === 'none') return undefined;
    const entries = Object.fromEntries(text.split(',').map((kv) => kv.split('=').map((x) => x.trim())));
    const out = {} as Record<VariantName, number>;
    for (const v of VARIANTS) {
      const n = Number(entries[v.name]);
      if (!(n > 0)) throw new BenchError(`--max-rates needs ${VARIANTS.map((x) => `${x.name}=<events/s>`).join(',')}; got '${text}'`);
      out[v.name] = n;
    }
    return out;
  };
  const publisher = get('publisher');
  if (publisher !== 'kafka' && publisher !== 'discard')
    throw new BenchError(`--publisher (BENCH_SOURCES_PUBLISHER) must be kafka or discard, got '${publisher}'`);
  if (publisher === 'discard' && only !== 'drain')
    throw new BenchError('--publisher discard needs --only drain (latency is measured at a consumer)');
  return {
    publisher,
    transactions: yesNo('transactions', get('transactions')),
    pg: get('pg'),
    kafka: get('kafka').replace(/^kafka:\/\//, ''),
    only,
    events: int('events'),
    rounds: int('rounds'),
    batch: int('batch'),
    rates: get('rate')
      .split(',')
      .map((r) => rate(r.trim())),
    maxRates: maxRates(get('max-rates')),
    warmup: int('warmup'),
    seconds: int('seconds'),
    writers: int('writers'),
    latencyVariants: latencyVariants(get('latency-variants')),
  };
}

function latencyVariants(text: string): ReadonlySet<VariantName> {
  const names = VARIANTS.map((v) => v.name);
  if (text === 'all') return new Set(names);
  const chosen = text.split(',').map((x) => x.trim());
  const unknown = chosen.filter((x) => !(names as string[]).includes(x));
  if (unknown.length > 0 || chosen.length === 0)
    throw new BenchError(`--latency-variants takes all or some of ${names.join(', ')}, comma-separated; got '${text}'`);
  return new Set(chosen as VariantName[]);
}

/** One entry of --rate: fixed events/s, a share of the variant's drain maximum, or the old automatic rate. */
type RateSpec = { kind: 'fixed'; rate: number } | { kind: 'percent'; percent: number } | { kind: 'auto' };

const specLabel = (r: RateSpec): string => (r.kind === 'fixed' ? String(r.rate) : r.kind === 'percent' ? `${r.percent}%` : 'auto');

/** Events per latency-writer transaction at `rate` events/s: one, until the transaction rate would pass {@link MAX_TX_RATE}. */
function txEventsFor(rate: number): number {
  return Math.max(1, Math.ceil(rate / MAX_TX_RATE));
}

// ------------------------------------------------------------------------------ the three variants

type VariantName = 'polling' | 'logicalTable' | 'logicalWal';

interface Variant {
  readonly name: VariantName;
  readonly label: string;
  /** Short, for schema and topic names. */
  readonly short: string;
  readonly logical: boolean;
  readonly mode: 'table' | 'wal';
}

const VARIANTS: readonly Variant[] = [
  { name: 'polling', label: 'polling (PollingSource, table)', short: 'poll', logical: false, mode: 'table' },
  { name: 'logicalTable', label: 'logical (LogicalSource, table)', short: 'ltab', logical: true, mode: 'table' },
  { name: 'logicalWal', label: 'logical (LogicalSource, WAL messages)', short: 'lwal', logical: true, mode: 'wal' },
];

/** Every schema, slot and publication of this process starts with this, so cleanup finds exactly its own. */
const PREFIX = `herald_bench_src_${suffix}_`;

/** Epoch milliseconds with sub-ms precision, monotonic within a process and comparable between processes on this machine. */
const now = (): number => performance.timeOrigin + performance.now();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * The connection that creates and drops schemas, slots and publications. Other work on a shared
 * machine may restart PostgreSQL; a statement that finds the connection broken is retried once
 * on a new one, so that cleanup still removes this run's slots (which would keep WAL forever).
 */
class AdminDb {
  #client: pg.Client;
  constructor(
    client: pg.Client,
    readonly url: string,
  ) {
    this.#client = client;
  }
  get client(): pg.Client {
    return this.#client;
  }
  async query<R extends pg.QueryResultRow>(text: string, params: unknown[] = []): Promise<pg.QueryResult<R>> {
    try {
      return await this.#client.query<R>(text, params);
    } catch (err) {
      if (!isConnectionError(err)) throw err;
      await this.#client.end().catch(() => undefined);
      this.#client = await pgConnect(this.url);
      return this.#client.query<R>(text, params);
    }
  }
  end(): Promise<void> {
    return this.#client.end();
  }
}

/** What every part needs: connections, the one publisher all variants share, and the topics. */
interface Shared {
  cfg: Config;
  machine: Machine;
  admin: AdminDb;
  /** Writes the drain backlogs. */
  db: pg.Client;
  publisher: KafkaPublisher;
  topics: { drain: Record<VariantName, string>; latency: Record<VariantName, string> };
}

let runs = 0;

/**
 * A fresh Herald schema for one run of one variant (fresh, so no run inherits another's dead rows,
 * WAL position or parked events). For the logical variants it also creates the publication and
 * the slot, so the events written afterwards are the slot's to stream. Returns its teardown.
 */
async function freshOutbox(
  s: Shared,
  v: Variant,
  topic: string,
): Promise<{ schema: string; outbox: PostgresOutbox; drop: () => Promise<void> }> {
  const schema = `${PREFIX}${v.short}_${++runs}`;
  const dropSchema = deferCleanup(`drop schema ${schema}`, () => s.admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`));
  const dropLogical = v.logical
    ? deferCleanup(`drop the slot and publication of ${schema}`, () => dropLogicalObjects(s.admin, schema))
    : undefined;
  await migratePostgres(s.cfg.pg, { schema, ...(v.logical ? { logical: {} } : {}) });
  const outbox = new PostgresOutbox({ contracts: orderContracts(topic), source: SOURCE, schema, mode: v.mode });
  return {
    schema,
    outbox,
    // The slot goes at once, not at the end: while it exists it keeps WAL, and no later run needs it.
    drop: async () => {
      await dropLogical?.();
      await dropSchema();
    },
  };
}

/** Drops the slot (once its walsender has exited) and the publication of one schema. */
async function dropLogicalObjects(admin: AdminDb, schema: string): Promise<void> {
  const names = logicalNames({ schema });
  await dropSlots(admin, names.slot);
  await admin.query(`DROP PUBLICATION IF EXISTS "${names.publication}"`);
}

/**
 * Drops the slots whose name is LIKE `pattern`. A slot can only be dropped when no walsender
 * streams it, and the walsender exits a moment after the relay closed its connection: wait for that.
 */
async function dropSlots(admin: AdminDb, pattern: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const { rows } = await admin.query<{ slot_name: string; active: boolean }>(
      `SELECT slot_name, active FROM pg_replication_slots WHERE slot_name LIKE $1`,
      [pattern],
    );
    for (const r of rows.filter((r) => !r.active)) {
      await admin.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active`, [
        r.slot_name,
      ]);
    }
    if (rows.every((r) => !r.active)) return;
    if (attempt >= 50) throw new Error(`replication slot(s) ${rows.map((r) => r.slot_name).join(', ')} still streamed after 10 s`);
    await sleep(200);
  }
}

/** Drops every batch: with it the drain measures what each source itself can read and record. */
const DISCARD: Publisher = {
  name: 'discard',
  prepare: async () => undefined,
  publish: async () => undefined,
  close: async () => undefined,
};

/** A running relay of one variant; `stop` stops it and closes its source (the slot's walsender exits). */
async function startRelay(
  s: Shared,
  v: Variant,
  schema: string,
): Promise<{ relay: Relay; failure: () => unknown; stop: () => Promise<void> }> {
  const source: RelaySource = v.logical
    ? new LogicalSource({ database: s.cfg.pg, schema, logger: stderrLogger })
    : new PollingSource({ database: s.cfg.pg, schema, logger: stderrLogger });
  // Relay defaults otherwise (2 s safety poll, retries); only the batch size is set, the same for all.
  const publisher: Publisher = s.cfg.publisher === 'discard' ? DISCARD : s.publisher;
  const relay = new Relay({ source, publisher, batchSize: s.cfg.batch, logger: stderrLogger });
  // relay.stop() waits for the loop to finish its batch in flight; then the source may close.
  const stop = deferCleanup(`stop the ${v.label} relay`, async () => {
    await relay.stop();
    await source.close();
  });
  await source.start();
  let failure: unknown;
  void relay.run().catch((err: unknown) => {
    failure = err;
  });
  return { relay, failure: () => failure, stop };
}

/** Waits until `done()`; fails when the relay failed or nothing moved for 60 s. */
async function waitFor(what: string, done: () => boolean, progress: () => number, failure: () => unknown, everyMs: number): Promise<void> {
  let last = progress();
  let lastChange = performance.now();
  while (!done()) {
    if (failure() !== undefined) throw failure();
    await sleep(everyMs);
    if (progress() !== last) {
      last = progress();
      lastChange = performance.now();
    } else if (performance.now() - lastChange > 60_000) {
      throw new BenchError(`${what}: no progress for 60 s (at ${last}); are PostgreSQL and Kafka still up? (npm run services)`);
    }
  }
}

// ------------------------------------------------------------------------------ 1. backlog drain

type Rates = Record<VariantName, number[]>;

async function drainBench(s: Shared): Promise<Record<VariantName, number>> {
  const { cfg } = s;
  const N = cfg.events;

  /** Writes n events in transactions of TX_EVENTS, then checkpoints so the drain does not pay for the flush. */
  async function prefill(outbox: PostgresOutbox, n: number): Promise<void> {
    const t0 = performance.now();
    for (let i = 0; i < n; i += TX_EVENTS) {
      const inputs: AppendInput[] = Array.from({ length: Math.min(TX_EVENTS, n - i) }, () => ({
        contract: CONTRACT,
        data: payloadOf(relayOrder()),
      }));
      await s.db.query('BEGIN');
      await outbox.appendMany(s.db, inputs);
      await s.db.query('COMMIT');
    }
    await s.db.query('CHECKPOINT');
    log(`drain: prefilled ${n} events in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }

  /** One drain: fresh schema (and slot), backlog of n events, then time the relay until all are delivered. */
  async function drainOnce(v: Variant, n: number): Promise<number> {
    const o = await freshOutbox(s, v, s.topics.drain[v.name]);
    await prefill(o.outbox, n);
    const r = await startRelay(s, v, o.schema);
    // The clock starts after source.start() (connect, read settings) and stops when the last
    // batch's delivery was recorded (rows deleted, or the slot position stored).
    const t0 = performance.now();
    await waitFor(
      `${v.name} drain`,
      () => r.relay.stats.delivered >= n,
      () => r.relay.stats.delivered,
      r.failure,
      2,
    );
    const secs = (performance.now() - t0) / 1000;
    await r.stop();
    if (r.relay.stats.delivered !== n) throw new BenchError(`${v.name}: wrote ${n} events, the relay delivered ${r.relay.stats.delivered}`);
    if (v.mode === 'table') {
      const { rows } = await s.admin.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${o.schema}.outbox`);
      if (rows[0]!.n !== 0)
        throw new BenchError(`${v.name}: the relay reported ${n} delivered but ${rows[0]!.n} rows are left in the outbox`);
    }
    await o.drop();
    return n / secs;
  }

  // Untimed warm-up of every path (JIT, plan caches, producer buffers, the replication code).
  const warmN = Math.min(N, cfg.warmup);
  for (const v of VARIANTS) await drainOnce(v, warmN);
  log(`drain: warmed up with ${warmN} events per variant`);

  const rates: Rates = { polling: [], logicalTable: [], logicalWal: [] };
  for (let r = 0; r < cfg.rounds; r++) {
    // Rotate the order each round so that no variant always runs first or last.
    const order = VARIANTS.map((_, i) => VARIANTS[(i + r) % VARIANTS.length]!);
    for (const v of order) {
      const rate = await drainOnce(v, N);
      rates[v.name].push(rate);
      log(`drain: round ${r + 1}/${cfg.rounds} ${v.name.padEnd(12)} ${N} events = ${Math.round(rate)} events/s`);
    }
  }

  const med = { polling: median(rates.polling), logicalTable: median(rates.logicalTable), logicalWal: median(rates.logicalWal) };
  const ratios = {
    logicalTableVsPolling: round3(med.logicalTable / med.polling),
    logicalWalVsPolling: round3(med.logicalWal / med.polling),
  };
  const perRound = (a: VariantName): number[] => rates[a].map((x, i) => round3(x / rates.polling[i]!));
  const GOAL = 2;
  const result = {
    bench: 'relay-source-drain',
    unit:
      cfg.publisher === 'kafka'
        ? 'events/s, backlog drained PostgreSQL -> Kafka (idempotent producer, acks=all)'
        : 'events/s, backlog read and recorded by each source; every batch discarded instead of published',
    machine: s.machine,
    config: {
      publisher: cfg.publisher,
      kafkaTransactions: cfg.transactions,
      events: N,
      eventsPerTransaction: TX_EVENTS,
      batchSize: cfg.batch,
      partitions: PARTITIONS,
      rounds: cfg.rounds,
      statistic: 'median of rounds',
    },
    eventsPerSec: { polling: round1(med.polling), logicalTable: round1(med.logicalTable), logicalWal: round1(med.logicalWal) },
    rounds: { polling: rates.polling.map(round1), logicalTable: rates.logicalTable.map(round1), logicalWal: rates.logicalWal.map(round1) },
    ratios,
    perRoundRatios: { logicalTableVsPolling: perRound('logicalTable'), logicalWalVsPolling: perRound('logicalWal') },
    goal: {
      logicalVsPolling: GOAL,
      met: { logicalTable: ratios.logicalTableVsPolling >= GOAL, logicalWal: ratios.logicalWalVsPolling >= GOAL },
    },
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.stdout.write(
    `\nBacklog drain: ${N} events (transactions of ${TX_EVENTS}), relay batchSize ${cfg.batch}, ` +
      `${cfg.publisher === 'kafka' ? `${PARTITIONS} partitions, acks=all idempotent` : 'publisher discards every batch'}, median of ${cfg.rounds} rounds\n`,
  );
  process.stdout.write(
    table(
      ['variant', 'events/s', 'vs polling', 'rounds'],
      VARIANTS.map((v) => [
        v.label,
        Math.round(med[v.name]),
        (med[v.name] / med.polling).toFixed(3),
        rates[v.name].map((x) => Math.round(x)).join(' / '),
      ]),
    ) + '\n',
  );
  const met = (ok: boolean): string => (ok ? 'met' : 'NOT met');
  process.stdout.write(
    `logical-table/polling = ${ratios.logicalTableVsPolling.toFixed(3)} (goal >= ${GOAL}: ${met(result.goal.met.logicalTable)}), ` +
      `logical-wal/polling = ${ratios.logicalWalVsPolling.toFixed(3)} (goal >= ${GOAL}: ${met(result.goal.met.logicalWal)})\n\n`,
  );
  return med;
}

// ------------------------------------------------------------------------------ 2. end-to-end latency
//
// Three processes, as in production: the relay runs in this one, the writer (the "service") and
// the Kafka consumer each in a child process of this script. In one shared event loop, the
// relay's work delayed the writer's "COMMIT returned" timestamp and the consumer's receipt
// timestamp, so latencies came out both too low and too high. Every process takes its times as
// performance.timeOrigin + performance.now(): epoch milliseconds with sub-ms precision, comparable
// across processes on one machine.

/** What a child process of this script does; passed in the HERALD_BENCH_JOB environment variable. */
type ChildJob =
  | { role: 'writer'; pg: string; schema: string; topic: string; mode: 'table' | 'wal'; rate: number; seconds: number; writers: number }
  | { role: 'consumer'; kafka: string; topic: string; groupId: string };

type ChildMessage =
  | { type: 'ready' }
  | { type: 'progress'; received: number }
  | { type: 'written'; commits: [string, number][]; lateMs: number[]; start: number; lastCommit: number; cpuSeconds: number }
  | { type: 'received'; receipts: [string, number][]; duplicates: number };

/** A child process running one {@link ChildJob}, with its messages by type. */
class Child {
  readonly #proc: ChildProcess;
  readonly #inbox = new Map<string, ChildMessage>();
  readonly #waiters = new Map<string, { resolve: (m: ChildMessage) => void; reject: (e: unknown) => void }>();
  #exited = false;
  #stopping = false;
  /** Events the consumer has received so far (its progress messages). */
  received = 0;
  failure: unknown;

  constructor(readonly job: ChildJob) {
    // stdout stays the parent's alone (JSON lines); the child's errors go to stderr.
    this.#proc = fork(fileURLToPath(import.meta.url), [], {
      env: { ...process.env, HERALD_BENCH_JOB: JSON.stringify(job) },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    this.#proc.on('message', (m: ChildMessage) => {
      if (m.type === 'progress') this.received = m.received;
      const w = this.#waiters.get(m.type);
      if (w) {
        this.#waiters.delete(m.type);
        w.resolve(m);
      } else this.#inbox.set(m.type, m);
    });
    this.#proc.on('exit', (code, signal) => {
      this.#exited = true;
      if (code === 0 || this.#stopping) return;
      this.failure ??= new BenchError(`the ${job.role} process exited with ${code ?? signal}`);
      for (const w of this.#waiters.values()) w.reject(this.failure);
      this.#waiters.clear();
    });
  }

  /** The next message of `type` (or one that already came). */
  message<T extends ChildMessage['type']>(type: T): Promise<Extract<ChildMessage, { type: T }>> {
    const m = this.#inbox.get(type);
    if (m) {
      this.#inbox.delete(type);
      return Promise.resolve(m as Extract<ChildMessage, { type: T }>);
    }
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.#waiters.set(type, { resolve: resolve as (m: ChildMessage) => void, reject }));
  }

  /** The process id, for CPU accounting. */
  get pid(): number {
    return this.#proc.pid!;
  }

  send(message: { type: 'finish' }): void {
    this.#proc.send(message);
  }

  /** Ends the process if it still runs, and waits until it has. */
  async stop(): Promise<void> {
    if (this.#exited) return;
    this.#stopping = true;
    const exited = new Promise((r) => this.#proc.once('exit', r));
    this.#proc.kill();
    await exited;
  }
}

/** In a child process: runs its job and reports to the parent over IPC. */
async function runChild(job: ChildJob): Promise<void> {
  const send = (m: ChildMessage): Promise<void> =>
    new Promise((resolve, reject) => process.send!(m, undefined, {}, (e) => (e ? reject(e) : resolve())));
  // The parent went away (error, Ctrl-C): nothing left to report to.
  process.on('disconnect', () => process.exit(0));
  if (job.role === 'writer') await writerChild(job, send);
  else await consumerChild(job, send);
  process.disconnect();
}

/**
 * The open-loop writer: event i is due at start + i/rate by the clock, whatever happened to
 * earlier ones. Connection k takes events k, k+W, k+2W, ...; when it falls behind it starts the
 * next at once, and the lateness it records shows how far behind it got (the load stays
 * open-loop only while that is small).
 */
async function writerChild(job: Extract<ChildJob, { role: 'writer' }>, send: (m: ChildMessage) => Promise<void>): Promise<void> {
  const outbox = new PostgresOutbox({ contracts: orderContracts(job.topic), source: SOURCE, schema: job.schema, mode: job.mode });
  const clients: pg.Client[] = [];
  for (let i = 0; i < job.writers; i++) clients.push(await pgConnect(job.pg));
  const txEvents = txEventsFor(job.rate);
  const total = Math.max(1, Math.round((job.rate * job.seconds) / txEvents));
  const interval = (1000 * txEvents) / job.rate;
  const commits: [string, number][] = [];
  const lateMs: number[] = [];
  // The parent starts its CPU accounting on 'ready'; the writer's own CPU counts from here too.
  const cpu0 = process.cpuUsage();
  await send({ type: 'ready' });
  const start = now() + 100;
  let lastCommit = start;
  await Promise.all(
    clients.map(async (c, k) => {
      for (let i = k; i < total; i += clients.length) {
        const inputs = Array.from({ length: txEvents }, () => ({ contract: CONTRACT, data: payloadOf(relayOrder()) }));
        const due = start + i * interval;
        const wait = due - now();
        if (wait > 0) await sleep(wait);
        lateMs.push(Math.max(0, now() - due));
        await c.query('BEGIN');
        const events = await outbox.appendMany(c, inputs);
        await c.query('COMMIT');
        const at = now();
        if (at > lastCommit) lastCommit = at;
        for (const e of events) commits.push([e.id, at]);
      }
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  await Promise.all(clients.map((c) => c.end()));
  await send({ type: 'written', commits, lateMs, start, lastCommit, cpuSeconds: (cpu.user + cpu.system) / 1e6 });
}

/**
 * The consumer: @platformatic/kafka's, reading the fresh topic from the start, recording when
 * each event id first arrived. Its fetch waits up to maxWaitTime only while there is nothing new
 * (minBytes 1), so each event pays a fetch round trip, not maxWaitTime.
 */
async function consumerChild(job: Extract<ChildJob, { role: 'consumer' }>, send: (m: ChildMessage) => Promise<void>): Promise<void> {
  const kafka = await kafkaModule();
  const consumer = new kafka.Consumer({
    groupId: job.groupId,
    clientId: 'herald-bench-consumer',
    bootstrapBrokers: [job.kafka],
    deserializers: kafka.stringDeserializers,
    maxWaitTime: 500,
    timeout: 5_000,
    retries: 3,
  });
  const stream = await consumer.consume({
    topics: [job.topic],
    mode: 'earliest',
    autocommit: false,
    sessionTimeout: 10_000,
    heartbeatInterval: 500,
  });
  const receipts = new Map<string, number>();
  let duplicates = 0;
  stream.on('data', (m) => {
    const at = now();
    const id = m.headers.get('ce_id');
    if (id === undefined) return;
    if (receipts.has(id)) duplicates++;
    else receipts.set(id, at);
  });
  stream.on('error', (err: unknown) => {
    log(`consumer: ${messageOf(err)}`);
    process.exit(1);
  });
  const finish = new Promise<void>((resolve) => process.on('message', (m: { type: string }) => m.type === 'finish' && resolve()));
  await send({ type: 'ready' });
  let reported = 0;
  const progress = setInterval(() => {
    if (receipts.size !== reported) {
      reported = receipts.size;
      send({ type: 'progress', received: reported }).catch(() => undefined);
    }
  }, 20);
  await finish;
  clearInterval(progress);
  // The stream first: a consumer leaves its group only when none of its streams is open.
  await stream.close();
  await consumer.close();
  await send({ type: 'received', receipts: [...receipts], duplicates });
}

/** One open-loop phase of one variant: a writer process at one rate, with what it measured. */
interface LatencyResult {
  /** The --rate entry it came from (`10000`, `70%`, `auto`). */
  rateSpec: string;
  /** Events/s asked of the writer. */
  rate: number;
  events: number;
  achievedRate: number;
  latency: Histogram;
  /** How late the writer started transactions against the clock schedule: shows whether the load stayed open-loop. */
  writerLate: Histogram;
  /** Event-loop delay of the relay's process while the writer ran, in ms. */
  loopDelayMs: { p99: number; max: number };
  /**
   * Where the machine's CPU went while the writer ran: the relay (this process), PostgreSQL (the
   * writer's backends and the relay's), the walsender decoding the slot (logical sources), Kafka,
   * the writer and consumer processes, the rest and idle.
   */
  cpu: CpuUse;
  /** What the writer's and the relay's backends were doing, sampled every {@link WAIT_SAMPLE_MS} ms. */
  waits: WaitProfile;
  /**
   * Events the consumer had before the writer saw its COMMIT return (recorded as 0 ms): the commit
   * is visible to the relay before the writer's backend and process get the CPU to report it. On a
   * busy machine that happens; maxMs is then the error bar of the timestamps.
   */
  earlyArrivals: { count: number; maxMs: number };
}

const WAIT_SAMPLE_MS = 100;

/** Per role, the share of samples (0–1) in which a backend of it was in each state, largest first. */
type WaitProfile = Record<'writer' | 'relay', Record<string, number>>;

/**
 * Samples `pg_stat_activity` until stopped: a poor man's wait-event profile of the backends
 * (the writer's connections are `herald-bench`, the relay's `herald-relay*` and its walsender;
 * `otherPids` are this script's own `herald-bench` connections, left out). A backend idle outside
 * a transaction is waiting for its client, which the CPU accounting covers.
 */
function sampleWaits(admin: AdminDb, otherPids: readonly number[]): { stop(): Promise<WaitProfile> } {
  const counts: Record<'writer' | 'relay', Map<string, number>> = { writer: new Map(), relay: new Map() };
  const totals = { writer: 0, relay: 0 };
  let stopped = false;
  let failure: unknown;
  const loop = (async () => {
    while (!stopped) {
      const { rows } = await admin.query<{ role: 'writer' | 'relay'; what: string }>(
        `SELECT CASE WHEN application_name = 'herald-bench' THEN 'writer' ELSE 'relay' END AS role,
                CASE WHEN state = 'idle' THEN 'idle (client)'
                     ELSE coalesce(wait_event_type || ':' || wait_event, 'on CPU') || ' in ' || split_part(ltrim(query), ' ', 1) END AS what
           FROM pg_stat_activity
          WHERE pid <> pg_backend_pid() AND pid <> ALL($1::int[])
            AND (application_name = 'herald-bench' OR application_name LIKE 'herald-relay%')`,
        [otherPids],
      );
      for (const r of rows) {
        counts[r.role].set(r.what, (counts[r.role].get(r.what) ?? 0) + 1);
        totals[r.role]++;
      }
      await sleep(WAIT_SAMPLE_MS);
    }
  })().catch((err: unknown) => {
    // Kept for stop(), which reports it: a rejection nobody awaits yet would end the process.
    failure = err;
  });
  const shares = (role: 'writer' | 'relay'): Record<string, number> =>
    Object.fromEntries(
      [...counts[role]]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 8)
        .map(([what, n]) => [what, round3(n / Math.max(1, totals[role]))]),
    );
  return {
    async stop() {
      stopped = true;
      await loop;
      if (failure !== undefined) throw new BenchError(`cannot sample pg_stat_activity: ${messageOf(failure)}`);
      return { writer: shares('writer'), relay: shares('relay') };
    },
  };
}

/** Latencies in microseconds, so sub-millisecond differences survive; reported in ms. */
const newHistogram = (): Histogram => buildHistogram({ numberOfSignificantValueDigits: 3 });
const ms = (us: number): number => round1(us / 1000);

/**
 * Every rate of one variant on one fresh outbox, relay and consumer: one writer process per rate,
 * one after the other, each phase ending when the consumer has every event of it (so a phase
 * that outran the relay does not leave a queue for the next).
 */
async function latencyOnce(
  s: Shared,
  v: Variant,
  rates: readonly { spec: string; rate: number }[],
  seconds: number,
): Promise<{ results: LatencyResult[]; duplicates: number }> {
  const { cfg } = s;
  const topic = s.topics.latency[v.name];
  const o = await freshOutbox(s, v, topic);

  const consumer = new Child({ role: 'consumer', kafka: cfg.kafka, topic, groupId: `herald-bench-${suffix}-${v.short}` });
  const stopConsumer = deferCleanup(`stop the ${v.name} consumer process`, () => consumer.stop());
  await withTimeout(consumer.message('ready'), 60_000, `starting the ${v.name} consumer`);
  const r = await startRelay(s, v, o.schema);
  const failure = (): unknown => r.failure() ?? consumer.failure;

  // Untimed warm-up through the whole path: the consumer joins its group and gets its partitions
  // (seconds, on a fresh group), the relay connects (and starts streaming), the topic's metadata is fetched.
  const WARM = 20;
  for (let i = 0; i < WARM; i++) {
    await s.db.query('BEGIN');
    await o.outbox.append(s.db, CONTRACT, payloadOf(relayOrder()));
    await s.db.query('COMMIT');
    await sleep(10);
  }
  await waitFor(
    `${v.name} latency warm-up`,
    () => consumer.received >= WARM,
    () => consumer.received,
    failure,
    20,
  );

  // The walsender decoding the slot is PostgreSQL's share that the logical sources add: counted apart.
  const walsender = v.logical
    ? (
        await s.admin.query<{ pid: number }>('SELECT active_pid AS pid FROM pg_replication_slots WHERE slot_name = $1', [
          logicalNames({ schema: o.schema }).slot,
        ])
      ).rows[0]?.pid
    : undefined;
  const named: Record<string, number> = { consumer: consumer.pid, ...(walsender ? { walsender } : {}) };
  // The connection that wrote the warm-up is a `herald-bench` one too, idle while the writer runs.
  const benchPid = (await s.db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  let expected = WARM;
  const phases: {
    spec: string;
    rate: number;
    written: Extract<ChildMessage, { type: 'written' }>;
    loopDelayMs: LatencyResult['loopDelayMs'];
    cpu: CpuUse;
    waits: WaitProfile;
  }[] = [];
  for (const { spec, rate } of rates) {
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    const writer = new Child({ role: 'writer', pg: cfg.pg, schema: o.schema, topic, mode: v.mode, rate, seconds, writers: cfg.writers });
    const stopWriter = deferCleanup(`stop the ${v.name} writer process`, () => writer.stop());
    await writer.message('ready');
    const meter = cpuMeter(named);
    const sampler = sampleWaits(s.admin, [benchPid]);
    const written = await writer.message('written');
    const cpu = meter.stop({ writer: written.cpuSeconds });
    const waits = await sampler.stop();
    loop.disable();
    await stopWriter();
    expected += written.commits.length;
    await waitFor(
      `${v.name} latency at ${rate} events/s`,
      () => consumer.received >= expected,
      () => consumer.received,
      failure,
      20,
    );
    phases.push({ spec, rate, written, cpu, waits, loopDelayMs: { p99: round1(loop.percentile(99) / 1e6), max: round1(loop.max / 1e6) } });
  }
  consumer.send({ type: 'finish' });
  const got = await withTimeout(consumer.message('received'), 30_000, `closing the ${v.name} consumer`);
  await stopConsumer();
  await r.stop();
  await o.drop();

  const receipts = new Map(got.receipts);
  const results = phases.map(({ spec, rate, written, loopDelayMs, cpu, waits }): LatencyResult => {
    const latency = newHistogram();
    const earlyArrivals = { count: 0, maxMs: 0 };
    for (const [id, committedAt] of written.commits) {
      const at = receipts.get(id);
      if (at === undefined) throw new BenchError(`${v.name}: event ${id} was committed but never received`);
      if (at < committedAt) {
        earlyArrivals.count++;
        earlyArrivals.maxMs = Math.max(earlyArrivals.maxMs, round1(committedAt - at));
      }
      latency.recordValue(Math.max(0, Math.round((at - committedAt) * 1000)));
    }
    const writerLate = newHistogram();
    for (const late of written.lateMs) writerLate.recordValue(Math.round(late * 1000));
    const total = written.commits.length;
    return {
      rateSpec: spec,
      rate,
      events: total,
      achievedRate: total / ((written.lastCommit - written.start) / 1000),
      latency,
      writerLate,
      loopDelayMs,
      earlyArrivals,
      cpu,
      waits,
    };
  });
  return { results, duplicates: got.duplicates };
}

const GOAL_P99_MS = 50;

async function latencyBench(s: Shared, drained: Record<VariantName, number> | undefined): Promise<void> {
  const { cfg } = s;
  // The maxima that P% rates are shares of: this run's drain medians, or --max-rates.
  const maxima = drained ?? cfg.maxRates;
  const maximaSource = drained ? 'the drain medians of this run' : cfg.maxRates ? '--max-rates' : 'none (no drain part, no --max-rates)';
  const skipped: { variant: VariantName; rateSpec: string; reason: string }[] = [];
  const ratesOf = (v: Variant): { spec: string; rate: number }[] =>
    cfg.rates.flatMap((spec) => {
      const label = specLabel(spec);
      if (spec.kind === 'fixed') return [{ spec: label, rate: spec.rate }];
      if (spec.kind === 'auto') {
        // Half the slower logical source's drain rate: well inside what the logical relay can do.
        const rate = maxima ? Math.max(1, Math.round(Math.min(maxima.logicalTable, maxima.logicalWal) / 2)) : RATE_FALLBACK;
        return [{ spec: label, rate }];
      }
      if (!maxima) {
        skipped.push({ variant: v.name, rateSpec: label, reason: 'no drain maximum: run the drain part too, or give --max-rates' });
        return [];
      }
      return [{ spec: label, rate: Math.max(1, Math.round((maxima[v.name] * spec.percent) / 100)) }];
    });

  const results = {} as Record<VariantName, LatencyResult[]>;
  const duplicates = {} as Record<VariantName, number>;
  for (const v of VARIANTS) {
    const rates = cfg.latencyVariants.has(v.name) ? ratesOf(v) : [];
    log(
      `latency: ${v.name}: ${rates.map((r) => `${r.rate} events/s (${r.spec})`).join(', ') || 'nothing to run'} for ${cfg.seconds} s each`,
    );
    if (rates.length === 0) {
      results[v.name] = [];
      duplicates[v.name] = 0;
      continue;
    }
    const res = await latencyOnce(s, v, rates, cfg.seconds);
    results[v.name] = res.results;
    duplicates[v.name] = res.duplicates;
    for (const x of res.results)
      log(
        `latency: ${v.name.padEnd(12)} ${x.events} events at ${Math.round(x.achievedRate)}/s (${x.rateSpec}): ` +
          `p50 ${ms(x.latency.getValueAtPercentile(50))} ms, p99 ${ms(x.latency.getValueAtPercentile(99))} ms, max ${ms(x.latency.maxValue)} ms`,
      );
  }

  const p99 = (x: LatencyResult): number => ms(x.latency.getValueAtPercentile(99));
  const summary = (x: LatencyResult): Record<string, unknown> => ({
    rateSpec: x.rateSpec,
    rate: x.rate,
    eventsPerTransaction: txEventsFor(x.rate),
    events: x.events,
    achievedRate: round1(x.achievedRate),
    latencyMs: {
      p50: ms(x.latency.getValueAtPercentile(50)),
      p90: ms(x.latency.getValueAtPercentile(90)),
      p99: p99(x),
      max: ms(x.latency.maxValue),
      mean: ms(x.latency.mean),
    },
    writerLateMs: { p99: ms(x.writerLate.getValueAtPercentile(99)), max: ms(x.writerLate.maxValue) },
    relayEventLoopDelayMs: x.loopDelayMs,
    earlyArrivals: x.earlyArrivals,
    busyCores: x.cpu.busyCores,
    cpuMsPer1000Events: perThousand(x.cpu, x.events),
    backendStates: x.waits,
    goalMet: p99(x) <= GOAL_P99_MS,
  });
  const result = {
    bench: 'relay-source-latency',
    unit: "ms from the writer's COMMIT returning to a Kafka consumer receiving the event (writer, relay and consumer in three processes on one machine)",
    machine: s.machine,
    config: {
      rates: cfg.rates.map(specLabel),
      maxEventsPerSec: maxima ?? null,
      maxEventsPerSecSource: maximaSource,
      seconds: cfg.seconds,
      writers: cfg.writers,
      maxTransactionsPerSec: MAX_TX_RATE,
      batchSize: cfg.batch,
      pollIntervalMs: 2000,
      partitions: PARTITIONS,
      kafkaTransactions: cfg.transactions,
      consumer: '@platformatic/kafka Consumer in its own process (read_committed, its default), maxWaitTime 500 ms, minBytes 1',
      writer: 'own process per rate, BEGIN; PostgresOutbox.appendMany; COMMIT',
    },
    variants: Object.fromEntries(VARIANTS.map((v) => [v.name, results[v.name].map(summary)])),
    duplicates,
    skipped,
    goal: {
      p99Ms: GOAL_P99_MS,
      met: Object.fromEntries(
        VARIANTS.map((v) => [v.name, results[v.name].length > 0 && results[v.name].every((x) => p99(x) <= GOAL_P99_MS)]),
      ),
    },
  };
  printResult(result);
  process.stdout.write(
    `\nEnd-to-end latency: open-loop writer (${cfg.writers} connections, at most ${MAX_TX_RATE} transactions/s) for ${cfg.seconds} s per rate, relay batchSize ${cfg.batch}\n`,
  );
  process.stdout.write(
    table(
      [
        'variant',
        'rate',
        'events/s',
        'p50 ms',
        'p90 ms',
        'p99 ms',
        'max ms',
        'writer late p99 ms',
        'relay loop delay p99 ms',
        'busy cores',
      ],
      VARIANTS.flatMap((v) =>
        results[v.name].map((x) => [
          v.label,
          x.rateSpec,
          Math.round(x.achievedRate),
          ms(x.latency.getValueAtPercentile(50)),
          ms(x.latency.getValueAtPercentile(90)),
          p99(x),
          ms(x.latency.maxValue),
          ms(x.writerLate.getValueAtPercentile(99)),
          x.loopDelayMs.p99,
          x.cpu.busyCores,
        ]),
      ),
    ) + '\n',
  );
  for (const k of skipped) process.stdout.write(`skipped: ${k.variant} at ${k.rateSpec}: ${k.reason}\n`);
  process.stdout.write(
    VARIANTS.map((v) => `${v.name}: p99 <= ${GOAL_P99_MS} ms at every rate: ${result.goal.met[v.name] ? 'met' : 'NOT met'}`).join(', ') +
      '\n\n',
  );
}

// ------------------------------------------------------------------------------ main

async function main(): Promise<void> {
  const cfg = readConfig();
  const admin = new AdminDb(await pgConnect(cfg.pg), cfg.pg);
  cleanups.push({ what: 'close the admin connection', run: () => admin.end() });
  await checkKafka(cfg);
  const { rows } = await admin.query<{ level: string }>(`SELECT current_setting('wal_level') AS level`);
  if (rows[0]!.level !== 'logical')
    throw new BenchError(`the logical source needs wal_level=logical; the server has '${rows[0]!.level}' (npm run services sets it)`);
  const machine = await machineFacts(cfg, admin.client, ['logical_decoding_work_mem', 'max_slot_wal_keep_size']);
  log(`node ${machine.node}, ${machine.cpus} cpus (${machine.cpuModel}), PostgreSQL ${machine.postgres}, Kafka ${cfg.kafka}`);

  // Runs last: whatever slot or publication of this process is left (after an error or Ctrl-C).
  cleanups.push({
    what: `drop replication slots and publications ${PREFIX}*`,
    run: async () => {
      await dropSlots(admin, `${PREFIX}%`);
      const pubs = await admin.query<{ pubname: string }>(`SELECT pubname FROM pg_publication WHERE pubname LIKE $1`, [`${PREFIX}%`]);
      for (const p of pubs.rows) await admin.query(`DROP PUBLICATION IF EXISTS "${p.pubname}"`);
    },
  });

  const parts = { drain: cfg.only !== 'latency', latency: cfg.only !== 'drain' };
  const topicsOf = (part: string): Record<VariantName, string> =>
    Object.fromEntries(VARIANTS.map((v) => [v.name, `herald-bench-src-${suffix}-${part}-${v.short}`])) as Record<VariantName, string>;
  const topics = { drain: topicsOf('drain'), latency: topicsOf('latency') };
  const used = [...(parts.drain ? Object.values(topics.drain) : []), ...(parts.latency ? Object.values(topics.latency) : [])];
  log(`topics herald-bench-src-${suffix}-*, ${PARTITIONS} partitions each; schemas, slots and publications ${PREFIX}*`);

  const kadmin = await kafkaAdmin(cfg);
  cleanups.push({ what: 'close the kafka admin client', run: () => kadmin.close() });
  cleanups.push({ what: `delete topics herald-bench-src-${suffix}-*`, run: () => kadmin.deleteTopics({ topics: used }) });
  await kadmin.createTopics({ topics: used, partitions: PARTITIONS, replicas: 1 }).catch((err: unknown) => {
    throw new BenchError(
      `cannot create the benchmark topics on ${cfg.kafka}: ${(err as Error).message}. Is the broker running? (npm run services)`,
    );
  });

  // One publisher for every variant and part: the same producer settings and connection for all.
  const publisher = new KafkaPublisher({ brokers: [cfg.kafka], clientId: 'herald-bench-sources', transactions: cfg.transactions });
  cleanups.push({ what: 'close the herald publisher', run: () => publisher.close() });
  await withTimeout(publisher.prepare(used), 30_000, 'preparing the publisher');

  const db = await pgConnect(cfg.pg);
  cleanups.push({ what: 'close the prefill connection', run: () => db.end() });

  const shared: Shared = { cfg, machine, admin, db, publisher, topics };
  const drained = parts.drain ? await drainBench(shared) : undefined;
  if (parts.latency) await latencyBench(shared, drained);
}

// This script is also the writer and the consumer of the latency part, run as child processes.
const childJob = process.env.HERALD_BENCH_JOB;
if (childJob === undefined) await runBench(main);
else await runChild(JSON.parse(childJob) as ChildJob);
