// Helpers shared by the benchmarks (outbox-bench.ts, relay-source-bench.ts, scale-bench.ts, ...):
// settings from flags and environment variables, the set-up most benches start with, the example
// order events, the machine facts every JSON line carries, table output, and cleanup that also
// runs on error and on Ctrl-C.
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { consoleLogger, ContractRegistry, migratePostgres, parseContract, PostgresOutbox, type AppendInput } from '../src/index.js';
import { redactUrl } from '../src/postgres/connect.js';
import { bounded } from '../src/brokers/bounded.js';
import type { IncomingEvent } from '../src/brokers/subscriber.js';

// ------------------------------------------------------------------------------ configuration

export interface Setting {
  readonly env: string;
  readonly fallback: string;
  readonly help: string;
}

/** The services every benchmark that needs them reads, with the same flags and variables. */
export const SERVICE_SETTINGS = {
  pg: { env: 'BENCH_PG', fallback: process.env.HERALD_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres', help: 'PostgreSQL URL' },
  kafka: { env: 'BENCH_KAFKA', fallback: process.env.HERALD_TEST_KAFKA ?? '127.0.0.1:9092', help: 'Kafka bootstrap host:port' },
} as const satisfies Record<string, Setting>;

/** An error whose message is all the user needs; printed without a stack. */
export class BenchError extends Error {}

/**
 * Parses `--name value` flags for every setting (a flag wins over its environment variable, which
 * wins over the fallback); prints the usage and exits on `--help`.
 */
export function readSettings<S extends Record<string, Setting>>(
  settings: S,
  script: string,
): { get: (name: keyof S & string) => string; int: (name: keyof S & string) => number } {
  const options = Object.fromEntries(Object.keys(settings).map((k) => [k, { type: 'string' as const }]));
  const { values } = parseArgs({ options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true });
  if (values.help) {
    const entries = Object.entries(settings);
    const flagWidth = Math.max(14, ...entries.map(([name]) => name.length));
    const envWidth = Math.max(20, ...entries.map(([, s]) => s.env.length + 1));
    const lines = entries.map(([name, s]) => `  --${name.padEnd(flagWidth)} ${s.env.padEnd(envWidth)} ${s.help} (default ${s.fallback})`);
    process.stdout.write(`usage: node --import tsx ${script} [options]\n\n  ${'flag'.padEnd(flagWidth + 3)}env var\n${lines.join('\n')}\n`);
    process.exit(0);
  }
  const get = (name: keyof S & string): string => {
    const flag = (values as Record<string, unknown>)[name];
    return typeof flag === 'string' ? flag : (process.env[settings[name]!.env] ?? settings[name]!.fallback);
  };
  const int = (name: keyof S & string): number => {
    const v = Number(get(name));
    if (!Number.isInteger(v) || v < 1)
      throw new BenchError(`--${name} (${settings[name]!.env}) must be a positive integer, got '${get(name)}'`);
    return v;
  };
  return { get, int };
}

// ------------------------------------------------------------------------------ small helpers

export const SOURCE = '/herald-bench';
export const CONTRACT = 'orders.order-placed';
const CONTRACT_FILE = new URL('../examples/orders/contracts/order-placed.v1.yaml', import.meta.url);
/** Part of every schema, topic and slot name of this process, so that cleanup removes only its own. */
export const suffix = randomBytes(4).toString('hex');

export function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

/** The example order-placed contract, routed to `topic`. */
export function orderContracts(topic: string): ContractRegistry {
  const text = readFileSync(CONTRACT_FILE, 'utf8').replace('value: orders.order-placed.v1', `value: ${topic}`);
  return new ContractRegistry([parseContract(text, 'order-placed.v1.yaml')]);
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export const round1 = (x: number): number => Math.round(x * 10) / 10;
export const round3 = (x: number): number => Math.round(x * 1000) / 1000;

export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return bounded(p, ms, () => new Error(`${what}: no answer within ${ms} ms`));
}

export function messageOf(err: unknown): string {
  const e = err as { message?: string; errors?: unknown[] };
  const nested = Array.isArray(e.errors) && e.errors.length > 0 ? ` (${e.errors.map(messageOf).join('; ')})` : '';
  return `${e.message ?? String(err)}${nested}`;
}

/** Relay warnings (e.g. a broker outage) go to stderr; they would explain a slow or stuck run. */
export const stderrLogger = consoleLogger({ quiet: true });

// ------------------------------------------------------------------------------ cleanup

/** Cleanup steps, run in reverse order at the end, on error and on Ctrl-C. */
export const cleanups: { what: string; run: () => Promise<unknown> }[] = [];
export async function cleanup(): Promise<void> {
  while (cleanups.length > 0) {
    const step = cleanups.pop()!;
    await withTimeout(step.run(), 15_000, step.what).catch((err: unknown) => log(`cleanup: ${step.what} failed: ${messageOf(err)}`));
  }
}

/**
 * Registers a cleanup step and returns a function that runs it now instead (once), for things
 * that are undone in the middle of the run (a relay stopped, a slot dropped) but must still be
 * undone if the run fails or is interrupted before that.
 */
export function deferCleanup(what: string, run: () => Promise<unknown>): () => Promise<void> {
  let done = false;
  const step = {
    what,
    run: async (): Promise<void> => {
      if (done) return;
      done = true;
      await run();
    },
  };
  cleanups.push(step);
  return async () => {
    const i = cleanups.indexOf(step);
    if (i >= 0) cleanups.splice(i, 1);
    await step.run();
  };
}

/**
 * Runs a benchmark's `main`: reports a BenchError by its message and anything else with its
 * stack, cleans up (also on SIGINT/SIGTERM; a second signal quits at once) and exits.
 */
export async function runBench(main: () => Promise<void>): Promise<never> {
  let interrupted = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (interrupted) process.exit(130);
      interrupted = true;
      log(`${signal}: cleaning up benchmark schemas and topics (send it again to quit at once)`);
      void cleanup().finally(() => process.exit(130));
    });
  }

  const t0 = performance.now();
  try {
    await main();
    log(`done in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  } catch (err) {
    process.exitCode = 1;
    if (err instanceof BenchError) log(`error: ${err.message}`);
    else log(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  } finally {
    await cleanup();
  }
  // Any client left open (e.g. after an error) must not keep the process alive.
  process.exit(process.exitCode ?? 0);
}

// ------------------------------------------------------------------------------ services

export async function pgConnect(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url, application_name: 'herald-bench' });
  c.on('error', () => undefined);
  try {
    await c.connect();
  } catch (err) {
    await c.end().catch(() => undefined);
    throw new BenchError(`cannot connect to PostgreSQL at ${redactUrl(url)}: ${messageOf(err)}. Start the services with: npm run services`);
  }
  return c;
}

export async function kafkaModule(): Promise<typeof import('@platformatic/kafka')> {
  return import('@platformatic/kafka');
}

export async function kafkaAdmin(cfg: { kafka: string }): Promise<import('@platformatic/kafka').Admin> {
  const { Admin } = await kafkaModule();
  return new Admin({ clientId: 'herald-bench-admin', bootstrapBrokers: [cfg.kafka], timeout: 5_000, retries: 1 });
}

/** Fails fast, with the fix, when Kafka cannot be reached. */
export async function checkKafka(cfg: { kafka: string }): Promise<void> {
  const admin = await kafkaAdmin(cfg);
  try {
    await withTimeout(admin.listTopics(), 15_000, 'listing topics');
  } catch (err) {
    throw new BenchError(`cannot reach Kafka at ${cfg.kafka}: ${messageOf(err)}. Start the services with: npm run services`);
  } finally {
    await withTimeout(admin.close(), 5_000, 'closing the admin client').catch(() => undefined);
  }
}

// ------------------------------------------------------------------------------ machine facts

export interface Machine {
  node: string;
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  platform: string;
  postgres: string;
  pgSettings: Record<string, string>;
  /** The broker, for a bench that uses one. */
  kafka?: string;
}

/** The facts every JSON line carries; `extraSettings` adds PostgreSQL settings that matter to one bench. */
export async function machineFacts(cfg: { kafka?: string }, db: pg.Client, extraSettings: readonly string[] = []): Promise<Machine> {
  const { rows } = await db.query<{ server_version: string }>('SHOW server_version');
  const names = ['synchronous_commit', 'fsync', 'autovacuum', 'shared_buffers', 'wal_level', 'max_wal_size', ...extraSettings];
  const settings = await db.query<{ name: string; setting: string }>(
    `SELECT name, setting FROM pg_settings WHERE name = ANY($1::text[]) ORDER BY name`,
    [names],
  );
  const cpus = os.cpus();
  return {
    node: process.version,
    cpus: typeof os.availableParallelism === 'function' ? os.availableParallelism() : cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${process.platform}-${process.arch}`,
    postgres: rows[0]?.server_version ?? 'unknown',
    pgSettings: Object.fromEntries(settings.rows.map((r) => [r.name, r.setting])),
    ...(cfg.kafka === undefined ? {} : { kafka: cfg.kafka }),
  };
}

// ------------------------------------------------------------------------------ common set-up

/** What {@link setUpBench} hands a benchmark: its settings, the services and the machine facts. */
export interface BenchSetUp<S extends Record<string, Setting>> {
  readonly get: (name: keyof S & string) => string;
  readonly int: (name: keyof S & string) => number;
  /** The services, with `kafka://` taken off the broker so it is a bootstrap `host:port`. */
  readonly services: { readonly pg: string; readonly kafka: string };
  /** An open connection to `services.pg` for set-up and checks; closed by the cleanup. */
  readonly admin: pg.Client;
  readonly machine: Machine;
}

/**
 * The set-up of a benchmark that needs PostgreSQL and Kafka: reads its settings (with
 * {@link SERVICE_SETTINGS} among them), fails fast with the fix when Kafka is down, opens the admin
 * connection (closed by the cleanup) and reads the machine facts every JSON line carries.
 */
export async function setUpBench<S extends Record<string, Setting> & typeof SERVICE_SETTINGS>(
  settings: S,
  script: string,
  extraPgSettings: readonly string[] = [],
): Promise<BenchSetUp<S>> {
  const { get, int } = readSettings(settings, script);
  const services = { pg: get('pg'), kafka: get('kafka').replace(/^kafka:\/\//, '') };
  await checkKafka(services);
  const admin = await pgConnect(services.pg);
  cleanups.push({ what: 'close the admin connection', run: () => admin.end() });
  const machine = await machineFacts(services, admin, extraPgSettings);
  return { get, int, services, admin, machine };
}

/**
 * Prints a result as one JSON line on stdout: `bench/run-all.ts` and `grep '^{'` take every line
 * that starts with `{` as one result, so a result must never span lines.
 */
export function printResult(result: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

// ------------------------------------------------------------------------------ example orders

export interface Order {
  id: string;
  customerId: string;
  currency: string;
  lines: { sku: string; quantity: number; unitPrice: number }[];
}

export function makeOrder(): Order {
  const lines = Array.from({ length: 3 }, (_, i) => ({
    sku: `sku-${Math.floor(Math.random() * 5000)}-${i}`,
    quantity: 1 + Math.floor(Math.random() * 4),
    unitPrice: Math.round(Math.random() * 10_000) / 100,
  }));
  // 10,000 customers: the per-key advisory lock of Herald's append rarely collides, as in a real shop.
  return { id: randomUUID(), customerId: `cust-${Math.floor(Math.random() * 10_000)}`, currency: 'EUR', lines };
}

export const totalOf = (o: Order): number => Math.round(o.lines.reduce((s, l) => s + l.quantity * l.unitPrice, 0) * 100) / 100;

/** The order-placed payload; built the same way for the hand-written and the Herald variant. */
export function payloadOf(o: Order): Record<string, unknown> {
  return {
    orderId: o.id,
    customerId: o.customerId,
    total: totalOf(o),
    currency: o.currency,
    placedAt: new Date().toISOString(),
    lines: o.lines,
  };
}

/**
 * `n` order-placed events as a subscriber hands them to the loader (topic `memory`, version 1.0.0
 * named by `dataschema`, with the contract's personal `customerEmail`), for benches of the
 * loader's parts without a broker.
 */
export function incomingOrders(n: number): IncomingEvent[] {
  const dataschema = `urn:herald:contract:${CONTRACT}:1.0.0`;
  return Array.from({ length: n }, (_, i) => {
    const o = makeOrder();
    return {
      topic: 'memory',
      position: String(i),
      attributes: {
        id: randomUUID(),
        type: CONTRACT,
        source: SOURCE,
        time: new Date().toISOString(),
        partitionkey: o.customerId,
        dataschema,
      },
      data: JSON.stringify({ ...payloadOf(o), customerEmail: `${o.customerId}@example.com` }),
    };
  });
}

/** Orders for the relay backlog: 1,000 customers, so that keys spread over all buckets and partitions. */
export function relayOrder(): Order {
  const o = makeOrder();
  return { ...o, customerId: `cust-${Math.floor(Math.random() * 1000)}` };
}

/**
 * A fresh outbox schema and 4-partition topic named after `name` (both removed at exit by
 * {@link cleanups}), and `prefill(n)`: n relay orders appended in transactions of 1000, then a
 * CHECKPOINT so that the timed drain does not pay for the flush.
 */
export async function drainTarget(
  cfg: { pg: string; kafka: string },
  admin: pg.Client,
  name: string,
): Promise<{ schema: string; topic: string; outbox: PostgresOutbox; prefill: (n: number) => Promise<void> }> {
  const schema = `herald_bench_${name}_${suffix}`;
  const topic = `herald-bench-${name}-${suffix}`;
  const kadmin = await kafkaAdmin(cfg);
  cleanups.push({ what: 'close the kafka admin client', run: () => kadmin.close() });
  cleanups.push({ what: `delete topic ${topic}`, run: () => kadmin.deleteTopics({ topics: [topic] }) });
  await kadmin.createTopics({ topics: [topic], partitions: 4, replicas: 1 });
  cleanups.push({ what: `drop schema ${schema}`, run: () => admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`) });
  await migratePostgres(cfg.pg, { schema });
  const outbox = new PostgresOutbox({ contracts: orderContracts(topic), source: SOURCE, schema });
  const prefill = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i += 1000) {
      const inputs: AppendInput[] = Array.from({ length: Math.min(1000, n - i) }, () => ({
        contract: CONTRACT,
        data: payloadOf(relayOrder()),
      }));
      await admin.query('BEGIN');
      await outbox.appendMany(admin, inputs);
      await admin.query('COMMIT');
    }
    await admin.query('CHECKPOINT');
  };
  return { schema, topic, outbox, prefill };
}
