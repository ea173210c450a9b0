// Herald benchmark: scale and memory of the real CLI processes (issue 14, part 5).
//
//   scale          drain rate of one outbox (with ordering buckets) by 1, 2 and 4 `herald relay
//                  --source polling` processes: the backlog is committed in one transaction while
//                  the relays already run, and the clock stops when the outbox is empty
//   relay-memory   peak RSS (VmHWM) of one `herald relay` draining a backlog of --relay-memory-events
//                  (1,000,000 by default; goal <= 256 MB)
//   loader-memory  peak RSS of one `herald load` loading a topic of --loader-memory-events events
//                  (1,000,000 by default) into DuckDB
//
//   npm run build && node --import tsx bench/scale-bench.ts [--only scale,relay-memory,loader-memory] ...
//
// stdout: one JSON line per part (starts with '{'), then a short table. Progress: stderr.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import { PostgresOutbox, type AppendInput } from '../src/index.js';
import { KafkaPublisher } from '../src/brokers/kafka/publisher.js';
import { event } from '../src/event.js';
import {
  BenchError,
  cleanups,
  CONTRACT,
  deferCleanup,
  kafkaAdmin,
  log,
  makeOrder,
  orderContracts,
  payloadOf,
  printResult,
  relayOrder,
  round1,
  runBench,
  SERVICE_SETTINGS,
  setUpBench,
  SOURCE,
  suffix,
  table,
  type Machine,
  type Setting,
} from './common.js';
import { HeraldProcess, requireBuiltCli, runHerald } from './herald-cli.js';

const PARTS = ['scale', 'relay-memory', 'loader-memory'] as const;
type Part = (typeof PARTS)[number];

const SETTINGS = {
  ...SERVICE_SETTINGS,
  only: { env: 'BENCH_SCALE_ONLY', fallback: PARTS.join(','), help: `comma-separated parts: ${PARTS.join(', ')}` },
  events: { env: 'BENCH_SCALE_EVENTS', fallback: '100000', help: 'scale: backlog drained by each process count' },
  processes: { env: 'BENCH_SCALE_PROCESSES', fallback: '1,2,4', help: 'scale: relay process counts, comma-separated' },
  buckets: { env: 'BENCH_SCALE_BUCKETS', fallback: '32', help: 'ordering buckets of the outbox (herald migrate --buckets)' },
  batch: { env: 'BENCH_SCALE_BATCH', fallback: '500', help: 'herald relay --batch-size' },
  'relay-memory-events': { env: 'BENCH_RELAY_MEMORY_EVENTS', fallback: '1000000', help: 'relay-memory: backlog the relay drains' },
  'loader-memory-events': { env: 'BENCH_LOADER_MEMORY_EVENTS', fallback: '1000000', help: 'loader-memory: events on the topic' },
  'migrate-args': {
    env: 'BENCH_SCALE_MIGRATE_ARGS',
    fallback: '',
    help: "more 'herald migrate' flags, space-separated (e.g. --no-notify)",
  },
  'relay-args': {
    env: 'BENCH_SCALE_RELAY_ARGS',
    fallback: '',
    help: "more 'herald relay' flags, space-separated (e.g. --poll-interval 100)",
  },
  label: { env: 'BENCH_SCALE_LABEL', fallback: 'default', help: 'variant name in the JSON (e.g. no-notify)' },
} satisfies Record<string, Setting>;

const PARTITIONS = 8;
const RELAY_MEMORY_GOAL_MIB = 256;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const words = (text: string): string[] => text.split(/\s+/).filter((w) => w.length > 0);

interface Context {
  services: { pg: string; kafka: string };
  admin: pg.Client;
  machine: Machine;
  topic: string;
  buckets: number;
  batch: number;
  migrateArgs: string[];
  relayArgs: string[];
  label: string;
}

let schemas = 0;

/** A fresh outbox made by `herald migrate` (so its flags, e.g. a later --no-notify, apply), dropped by the cleanup. */
async function freshOutbox(c: Context, part: string): Promise<{ schema: string; outbox: PostgresOutbox; drop: () => Promise<void> }> {
  const schema = `herald_bench_scale_${suffix}_${part}_${++schemas}`;
  const drop = deferCleanup(`drop schema ${schema}`, () => c.admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`));
  await runHerald(['migrate', '--database', c.services.pg, '--schema', schema, '--buckets', String(c.buckets), ...c.migrateArgs]);
  return { schema, outbox: new PostgresOutbox({ contracts: orderContracts(c.topic), source: SOURCE, schema }), drop };
}

function relayProcess(c: Context, schema: string, name: string): HeraldProcess {
  return new HeraldProcess(name, [
    'relay',
    '--source',
    'polling',
    '--database',
    c.services.pg,
    '--schema',
    schema,
    '--broker',
    `kafka://${c.services.kafka}`,
    '--batch-size',
    String(c.batch),
    '--json',
    ...c.relayArgs,
  ]);
}

/** Appends `n` events in transactions of `perTx` (all in one transaction with `perTx` = n). */
async function append(c: Context, outbox: PostgresOutbox, n: number, perTx: number): Promise<void> {
  for (let i = 0; i < n; i += perTx) {
    await c.admin.query('BEGIN');
    const end = Math.min(n, i + perTx);
    for (let j = i; j < end; j += 1000) {
      const inputs: AppendInput[] = Array.from({ length: Math.min(1000, end - j) }, () => ({
        contract: CONTRACT,
        data: payloadOf(relayOrder()),
      }));
      await outbox.appendMany(c.admin, inputs);
    }
    await c.admin.query('COMMIT');
  }
}

/** Waits until the outbox is empty; fails when a relay exited or nothing moved for 60 s. */
async function untilEmpty(c: Context, schema: string, relays: readonly HeraldProcess[]): Promise<void> {
  let last = -1;
  let lastChange = performance.now();
  for (;;) {
    const { rows } = await c.admin.query<{ left: boolean }>(`SELECT EXISTS (SELECT 1 FROM ${schema}.outbox) AS left`);
    if (!rows[0]!.left) return;
    for (const r of relays) r.assertRunning();
    // Counting is slower than EXISTS; only once a second, to see progress.
    if (performance.now() - lastChange > 1_000) {
      const n = (await c.admin.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${schema}.outbox`)).rows[0]!.n;
      if (n !== last) {
        last = n;
        lastChange = performance.now();
      } else if (performance.now() - lastChange > 60_000) {
        throw new BenchError(`${schema}: ${n} events left and none delivered for 60 s; relay log:\n${relays[0]?.tail()}`);
      }
    }
    await sleep(10);
  }
}

async function deadLetters(c: Context, schema: string): Promise<number> {
  const { rows } = await c.admin.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${schema}.dead_letter`);
  return rows[0]!.n;
}

// ------------------------------------------------------------------------------ scale

interface ScaleRun {
  processes: number;
  eventsPerSec: number;
  seconds: number;
  peakRssMiB: (number | null)[];
}

/**
 * One outbox, `k` relays already running (and past one untimed warm-up batch, so every relay
 * holds its share of the bucket leases), then N events committed in one transaction: every relay
 * sees the whole backlog at the same moment. Timed from that COMMIT to an empty outbox.
 */
async function scaleRun(c: Context, k: number, n: number): Promise<ScaleRun> {
  const o = await freshOutbox(c, `p${k}`);
  const relays = Array.from({ length: k }, (_, i) => relayProcess(c, o.schema, `relay ${i + 1}/${k}`));
  await Promise.all(relays.map((r) => r.waitForLog('"relay started"', 60_000)));
  await append(c, o.outbox, Math.min(2_000, n), 2_000);
  await untilEmpty(c, o.schema, relays);
  // Let the leases settle between the relays (each takes its share on its next lease round).
  await sleep(1_000);
  await c.admin.query(`VACUUM ${o.schema}.outbox`);

  await append(c, o.outbox, n, n);
  const t0 = performance.now();
  await untilEmpty(c, o.schema, relays);
  const seconds = (performance.now() - t0) / 1000;
  const peakRssMiB = relays.map((r) => r.memory()?.peakRssMiB ?? null);
  await Promise.all(relays.map((r) => r.stop()));
  const dead = await deadLetters(c, o.schema);
  if (dead > 0) throw new BenchError(`${o.schema}: ${dead} events were dead-lettered; the bench data or the broker is wrong`);
  await o.drop();
  return { processes: k, eventsPerSec: round1(n / seconds), seconds: round1(seconds), peakRssMiB };
}

async function scale(c: Context, n: number, counts: readonly number[]): Promise<void> {
  const runs: ScaleRun[] = [];
  for (const k of counts) {
    const run = await scaleRun(c, k, n);
    runs.push(run);
    log(`scale: ${k} relay process(es): ${n} events in ${run.seconds} s = ${Math.round(run.eventsPerSec)} events/s`);
  }
  const base = runs.find((r) => r.processes === 1)?.eventsPerSec ?? runs[0]!.eventsPerSec;
  printResult({
    bench: 'relay-scale',
    variant: c.label,
    unit: 'events/s, one PostgreSQL outbox drained to Kafka by k `herald relay --source polling` processes',
    machine: c.machine,
    config: {
      events: n,
      buckets: c.buckets,
      batchSize: c.batch,
      partitions: PARTITIONS,
      migrateArgs: c.migrateArgs,
      relayArgs: c.relayArgs,
      timing: 'from the COMMIT of the whole backlog (relays already running) to an empty outbox',
    },
    runs: runs.map((r) => ({ ...r, vsOneProcess: Math.round((r.eventsPerSec / base) * 1000) / 1000 })),
  });
  process.stdout.write(
    `\nRelay scale: ${n} events, ${c.buckets} buckets, batch ${c.batch} (${c.label})\n` +
      table(
        ['relay processes', 'events/s', 'vs 1', 'peak RSS MiB (each)'],
        runs.map((r) => [r.processes, Math.round(r.eventsPerSec), (r.eventsPerSec / base).toFixed(2), r.peakRssMiB.join(' / ')]),
      ) +
      '\n\n',
  );
}

// ------------------------------------------------------------------------------ relay memory

async function relayMemory(c: Context, n: number): Promise<void> {
  const o = await freshOutbox(c, 'mem');
  const t0 = performance.now();
  await append(c, o.outbox, n, 10_000);
  await c.admin.query('CHECKPOINT');
  log(`relay-memory: ${n} events written in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const relay = relayProcess(c, o.schema, 'relay (memory)');
  await relay.waitForLog('"relay started"', 60_000);
  // From the start-up log line: the drain, not Node's start-up (the log is polled every 50 ms).
  const started = performance.now();
  await untilEmpty(c, o.schema, [relay]);
  const seconds = (performance.now() - started) / 1000;
  const memory = relay.memory();
  await relay.stop();
  await o.drop();
  if (memory === undefined) throw new BenchError('no /proc/<pid>/status to read the peak RSS from (the memory parts need Linux)');
  log(`relay-memory: drained ${n} in ${seconds.toFixed(1)} s, peak RSS ${memory.peakRssMiB} MiB`);
  printResult({
    bench: 'relay-memory',
    variant: c.label,
    unit: 'MiB, VmHWM of the `herald relay --source polling` process after draining the backlog',
    machine: c.machine,
    config: { events: n, buckets: c.buckets, batchSize: c.batch, relayArgs: c.relayArgs },
    peakRssMiB: memory.peakRssMiB,
    rssAtEndMiB: memory.rssMiB,
    drainEventsPerSec: round1(n / seconds),
    goal: { peakRssMiB: RELAY_MEMORY_GOAL_MIB, met: memory.peakRssMiB <= RELAY_MEMORY_GOAL_MIB },
  });
  process.stdout.write(
    `Relay memory: ${n}-event backlog, peak RSS ${memory.peakRssMiB} MiB ` +
      `(goal <= ${RELAY_MEMORY_GOAL_MIB}: ${memory.peakRssMiB <= RELAY_MEMORY_GOAL_MIB ? 'met' : 'NOT met'})\n\n`,
  );
}

// ------------------------------------------------------------------------------ loader memory

/** A port nobody listens on now, for the loader's metrics endpoint. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

/** `herald_load_rows_total` summed over tables, scraped from the loader's /metrics. */
async function loadedRows(port: number): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  const text = await res.text();
  let total = 0;
  for (const line of text.split('\n')) if (line.startsWith('herald_load_rows_total{')) total += Number(line.split(' ').pop());
  return total;
}

async function loaderMemory(c: Context, n: number): Promise<void> {
  const topic = `herald-bench-scale-${suffix}-load`;
  const kadmin = await kafkaAdmin(c.services);
  cleanups.push({ what: 'close the kafka admin client (loader)', run: () => kadmin.close() });
  cleanups.push({ what: `delete topic ${topic}`, run: () => kadmin.deleteTopics({ topics: [topic] }) });
  await kadmin.createTopics({ topics: [topic], partitions: 4, replicas: 1 });
  const dir = await mkdtemp(join(tmpdir(), 'herald-bench-load-'));
  cleanups.push({ what: `remove ${dir}`, run: () => rm(dir, { recursive: true, force: true }) });
  // The example contract, routed to this run's topic, as the loader's contract folder.
  const contract = await readFile(new URL('../examples/orders/contracts/order-placed.v1.yaml', import.meta.url), 'utf8');
  await writeFile(join(dir, 'order-placed.v1.yaml'), contract.replace('value: orders.order-placed.v1', `value: ${topic}`));

  const t0 = performance.now();
  const publisher = new KafkaPublisher({ brokers: c.services.kafka });
  try {
    for (let i = 0; i < n; i += 5_000) {
      const batch = Array.from({ length: Math.min(5_000, n - i) }, () => {
        const o = makeOrder();
        const { data, ...envelope } = event({
          source: SOURCE,
          type: CONTRACT,
          dataschema: `urn:herald:contract:${CONTRACT}:1.0.0`,
          partitionkey: o.customerId,
          data: { ...payloadOf(o), customerEmail: `${o.customerId}@example.com` },
        });
        return { event: envelope, topic, data: JSON.stringify(data) };
      });
      await publisher.publish(batch);
    }
  } finally {
    await publisher.close();
  }
  log(`loader-memory: ${n} events on ${topic} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const port = await freePort();
  const loader = new HeraldProcess('loader (memory)', [
    'load',
    '--broker',
    `kafka://${c.services.kafka}`,
    '--warehouse',
    `duckdb:${join(dir, 'warehouse.duckdb')}`,
    '--contracts',
    dir,
    '--topics',
    topic,
    '--group',
    `herald-bench-${suffix}-load`,
    '--create-subscriptions',
    '--metrics',
    `127.0.0.1:${port}`,
    '--json',
  ]);
  await loader.waitForLog('"loader started"', 60_000);
  const started = performance.now();
  let rows = 0;
  let lastChange = performance.now();
  while (rows < n) {
    loader.assertRunning();
    await sleep(200);
    const now = await loadedRows(port);
    if (now !== rows) {
      rows = now;
      lastChange = performance.now();
    } else if (performance.now() - lastChange > 60_000)
      throw new BenchError(`the loader loaded ${rows}/${n} and nothing for 60 s:\n${loader.tail()}`);
  }
  const seconds = (performance.now() - started) / 1000;
  const memory = loader.memory();
  await loader.stop();
  if (memory === undefined) throw new BenchError('no /proc/<pid>/status to read the peak RSS from (the memory parts need Linux)');
  log(`loader-memory: loaded ${n} in ${seconds.toFixed(1)} s, peak RSS ${memory.peakRssMiB} MiB`);
  printResult({
    bench: 'loader-memory',
    unit: 'MiB, VmHWM of the `herald load` process (DuckDB warehouse) after loading the whole topic',
    machine: c.machine,
    config: { events: n, warehouse: 'duckdb', partitions: 4, maxBatch: 5000 },
    peakRssMiB: memory.peakRssMiB,
    rssAtEndMiB: memory.rssMiB,
    loadRowsPerSec: round1(n / seconds),
  });
  process.stdout.write(`Loader memory: ${n}-event topic into DuckDB, peak RSS ${memory.peakRssMiB} MiB\n\n`);
}

// ------------------------------------------------------------------------------ main

async function main(): Promise<void> {
  const { get, int, services, admin, machine } = await setUpBench(SETTINGS, 'bench/scale-bench.ts');
  requireBuiltCli();
  const only = get('only')
    .split(',')
    .map((p) => p.trim());
  for (const p of only)
    if (!PARTS.includes(p as Part)) throw new BenchError(`--only (BENCH_SCALE_ONLY) takes ${PARTS.join(', ')}; got '${p}'`);
  const counts = get('processes').split(',').map(Number);
  if (counts.some((k) => !Number.isInteger(k) || k < 1))
    throw new BenchError(`--processes must be positive integers, comma-separated; got '${get('processes')}'`);

  const topic = `herald-bench-scale-${suffix}`;
  const c: Context = {
    services,
    admin,
    machine,
    topic,
    buckets: int('buckets'),
    batch: int('batch'),
    migrateArgs: words(get('migrate-args')),
    relayArgs: words(get('relay-args')),
    label: get('label'),
  };
  if (only.includes('scale') || only.includes('relay-memory')) {
    const kadmin = await kafkaAdmin(services);
    cleanups.push({ what: 'close the kafka admin client', run: () => kadmin.close() });
    cleanups.push({ what: `delete topic ${topic}`, run: () => kadmin.deleteTopics({ topics: [topic] }) });
    await kadmin.createTopics({ topics: [topic], partitions: PARTITIONS, replicas: 1 });
  }
  if (only.includes('scale')) await scale(c, int('events'), counts);
  if (only.includes('relay-memory')) await relayMemory(c, int('relay-memory-events'));
  if (only.includes('loader-memory')) await loaderMemory(c, int('loader-memory-events'));
}

await runBench(main);
