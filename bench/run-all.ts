// `npm run bench`: every benchmark of Herald, one after the other, each as a child process
// (`node --import tsx bench/<script>`), collecting the JSON lines each prints. Writes
// bench/results/latest.json (the results, the machine, the date and the command) and
// bench/results/chart.svg (bench/chart.ts), and prints the markdown table (bench/report-table.ts).
//
//   npm run bench                         # the full sizes (tens of minutes on 2 cores)
//   npm run bench -- --quick              # small sizes, the whole run in under 3 minutes
//   npm run bench -- --only sources,latency  # runs those again; the others stay in latest.json
//
// A bench that fails is recorded with its exit code and the tail of its stderr; the others still
// run. A bench that needs something the CLI cannot do yet is skipped with the reason in the JSON.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { renderChart } from './chart.js';
import { chartCaption, machineLine, markdownReport } from './report-table.js';
import { summarize, type BenchLine } from './summary.js';
import { heraldSupports, requireBuiltCli } from './herald-cli.js';
import { SERVICE_SETTINGS } from './common.js';

const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url));
const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));
/** The relay batch size of every relay figure: the relay's default, also the raw producer's, so the ratios compare like with like. */
const BATCH = '500';

/** What a bench run needs to know of the ones before it (the latency part takes the drain maxima). */
type Done = ReadonlyMap<string, BenchRecord>;

interface Entry {
  readonly name: string;
  readonly script: string;
  readonly what: string;
  readonly args: (quick: boolean, done: Done) => string[];
  /** A CLI flag it cannot run without; missing, the entry is skipped with `why`. */
  readonly requires?: { readonly command: string; readonly flag: string; readonly why: string };
}

/** A bench as it ran (or why it did not), as written to latest.json. */
interface BenchRecord {
  name: string;
  script: string;
  what: string;
  args: string[];
  exitCode: number | null;
  seconds: number;
  results: BenchLine[];
  error?: string;
  skipped?: string;
}

const pick = (quick: boolean, small: string[], full: string[] = []): string[] => (quick ? small : full);

const ENTRIES: readonly Entry[] = [
  {
    name: 'relay',
    script: 'outbox-bench.ts',
    what: 'polling relay vs the raw Kafka producer (the ceiling of every relay source)',
    args: (q) => ['--only', 'relay', '--relay-batch', BATCH, ...pick(q, ['--relay-events', '5000', '--relay-rounds', '1'])],
  },
  {
    name: 'write',
    script: 'outbox-bench.ts',
    what: 'PostgreSQL business transaction: Herald append vs a hand-written outbox INSERT',
    args: (q) => ['--only', 'write', ...pick(q, ['--write-tx', '150', '--write-rounds', '1'])],
  },
  {
    name: 'stores',
    script: 'stores-bench.ts',
    what: 'the same per store × data layer',
    args: (q) => pick(q, ['--tx', '60', '--rounds', '1']),
  },
  {
    name: 'mysql',
    script: 'mysql-bench.ts',
    what: 'MySQL/MariaDB: append vs a hand-written INSERT, and the MySQL polling relay vs the raw producer',
    args: (q) => [
      '--relay-batch',
      BATCH,
      ...pick(q, ['--write-tx', '60', '--write-rounds', '1', '--relay-events', '5000', '--relay-rounds', '1']),
    ],
  },
  {
    name: 'sources',
    script: 'relay-source-bench.ts',
    what: 'backlog drain of the polling source and the logical source (table mode, WAL messages)',
    // Idempotent, like the raw producer the drains are compared with; kafka-transactions has that cost.
    args: (q) => [
      '--only',
      'drain',
      '--batch',
      BATCH,
      '--transactions',
      'no',
      ...pick(q, ['--events', '5000', '--rounds', '1', '--warmup', '500']),
    ],
  },
  {
    name: 'latency',
    script: 'relay-source-bench.ts',
    what: 'commit → consumer latency of each source at 10,000 events/s and at 70% of its drain maximum',
    args: (q, done) => {
      const drain = done.get('sources')?.results.find((l) => l.bench === 'relay-source-drain');
      const rates = drain?.eventsPerSec as Record<string, number> | undefined;
      // The maxima of this run's drain; without one, the bench measures its own first.
      const source = rates
        ? [
            '--only',
            'latency',
            '--max-rates',
            Object.entries(rates)
              .map(([k, v]) => `${k}=${v}`)
              .join(','),
          ]
        : ['--only', 'all', ...pick(q, ['--events', '5000', '--rounds', '1', '--warmup', '500'])];
      // Quick: 1 s per phase; the writer's fresh process needs about as long again to warm up.
      return [...source, '--batch', BATCH, '--rate', '10000,70%', ...pick(q, ['--seconds', '1'], ['--seconds', '20'])];
    },
  },
  {
    name: 'latency-idempotent',
    script: 'relay-source-bench.ts',
    what: 'the same latency with the idempotent producer alone (--no-kafka-transactions): what the transactions cost in latency',
    args: (q, done) => [...ENTRIES.find((e) => e.name === 'latency')!.args(q, done), '--transactions', 'no'],
  },
  {
    name: 'loader',
    script: 'load-bench.ts',
    what: 'warehouse loader vs a hand-written loader and the consume-only consumer',
    args: (q) => pick(q, ['--rows', '10000', '--rounds', '1']),
  },
  {
    name: 'sink-paths',
    script: 'pg-sink-paths-bench.ts',
    what: "the PostgreSQL warehouse's batch paths (one JSON text, text[] per column, typed arrays): CPU per 1,000 rows of client and server",
    args: (q) => pick(q, ['--rows', '5000', '--rounds', '1']),
  },
  {
    name: 'scale',
    script: 'scale-bench.ts',
    what: 'drain rate of 1, 2 and 4 herald relay processes; peak RSS of the relay and the loader',
    args: (q) =>
      pick(q, ['--events', '10000', '--relay-memory-events', '20000', '--loader-memory-events', '20000'], ['--events', '200000']),
  },
  {
    name: 'scale-no-notify',
    script: 'scale-bench.ts',
    what: 'one relay process on an outbox migrated without the NOTIFY trigger (fast poll instead)',
    requires: { command: 'migrate', flag: '--no-notify', why: 'this herald migrate has no --no-notify' },
    args: (q) => [
      '--only',
      'scale',
      '--processes',
      '1',
      '--label',
      'no-notify',
      // `=`: parseArgs takes a separate value that starts with `--` for an option of its own.
      '--migrate-args=--no-notify',
      ...pick(q, ['--events', '10000'], ['--events', '200000']),
    ],
  },
  {
    name: 'kafka-transactions',
    script: 'kafka-transactions-bench.ts',
    what: 'relay with Kafka transactions vs the idempotent producer',
    args: (q) => ['--batch', BATCH, ...pick(q, ['--events', '5000', '--rounds', '1'])],
  },
  {
    name: 'metrics',
    script: 'metrics-cost-bench.ts',
    what: 'relay with --metrics vs without',
    args: (q) => ['--batch', BATCH, ...pick(q, ['--events', '5000', '--rounds', '1'])],
  },
  {
    name: 'contracts',
    script: 'contracts-bench.ts',
    what: 'contract validation vs raw ajv',
    args: (q) => pick(q, ['--events', '20000', '--rounds', '1']),
  },
];

function log(message: string): void {
  process.stderr.write(`[run-all] ${message}\n`);
}

/** Runs one bench script; its stderr (progress) passes through, its stdout is kept and its JSON lines parsed. */
async function runEntry(entry: Entry, args: string[], timeoutMs: number): Promise<BenchRecord> {
  const t0 = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', `${BENCH_DIR}${entry.script}`, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: process.env,
  });
  let stdout = '';
  let stderrTail = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    process.stderr.write(d);
    stderrTail = (stderrTail + d.toString()).slice(-2000);
  });
  // SIGINT first, so the bench removes its schemas, slots and topics; SIGKILL if it does not exit.
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGINT');
    setTimeout(() => child.kill('SIGKILL'), 20_000).unref();
  }, timeoutMs);
  const exitCode = await new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  clearTimeout(timer);
  const results: BenchLine[] = [];
  const bad: string[] = [];
  for (const line of stdout.split('\n').filter((l) => l.startsWith('{'))) {
    try {
      results.push(JSON.parse(line) as BenchLine);
    } catch {
      bad.push(line.slice(0, 80));
    }
  }
  const errors = [
    ...(timedOut ? [`stopped after ${timeoutMs / 1000} s`] : []),
    ...(exitCode !== 0 ? [`exit code ${exitCode}: ${stderrTail.trim().split('\n').slice(-5).join(' / ')}`] : []),
    ...(bad.length > 0 ? [`${bad.length} line(s) starting with { were not JSON: ${bad.join(' | ')}`] : []),
  ];
  return {
    name: entry.name,
    script: `bench/${entry.script}`,
    what: entry.what,
    args,
    exitCode,
    seconds: Math.round((performance.now() - t0) / 100) / 10,
    results,
    ...(errors.length > 0 ? { error: errors.join('; ') } : {}),
  };
}

/** Kafka's version, from the broker's command line on this machine (its install directory or jar names); `unknown` otherwise. */
function kafkaVersion(): string {
  if (process.env.BENCH_KAFKA_VERSION) return process.env.BENCH_KAFKA_VERSION;
  try {
    for (const pid of readdirSafe('/proc').filter((p) => /^\d+$/.test(p))) {
      let cmd: string;
      try {
        cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      } catch {
        continue;
      }
      if (!cmd.includes('java') || !/kafka/i.test(cmd)) continue;
      const m = /kafka[-_](?:2\.1[23]-)?(\d+\.\d+\.\d+)/.exec(cmd);
      if (m) return m[1]!;
    }
  } catch {
    // No /proc: not Linux.
  }
  return 'unknown';
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** PostgreSQL's version, or why it could not be read (the benches that need it then fail on their own). */
async function postgresVersion(url: string): Promise<string> {
  const c = new pg.Client({ connectionString: url, application_name: 'herald-bench-run-all' });
  c.on('error', () => undefined);
  try {
    await c.connect();
    const { rows } = await c.query<{ v: string }>("SELECT current_setting('server_version') AS v");
    return rows[0]?.v ?? 'unknown';
  } catch (err) {
    return `unreachable (${(err as Error).message})`;
  } finally {
    await c.end().catch(() => undefined);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { quick: { type: 'boolean', default: false }, only: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(
      `usage: npm run bench -- [--quick] [--only name,name]\n\nbenches:\n${ENTRIES.map((e) => `  ${e.name.padEnd(20)} ${e.what}`).join('\n')}\n`,
    );
    return;
  }
  const quick = values.quick;
  const only = values.only?.split(',').map((s) => s.trim());
  const unknown = only?.filter((n) => !ENTRIES.some((e) => e.name === n)) ?? [];
  if (unknown.length > 0)
    throw new Error(`--only: no bench named ${unknown.join(', ')}; there are ${ENTRIES.map((e) => e.name).join(', ')}`);
  requireBuiltCli();
  const entries = ENTRIES.filter((e) => only === undefined || only.includes(e.name));
  const command = `npm run bench --${quick ? ' --quick' : ''}${only ? ` --only ${only.join(',')}` : ''}`;

  const started = new Date();
  const t0 = performance.now();
  const pgUrl = process.env[SERVICE_SETTINGS.pg.env] ?? SERVICE_SETTINGS.pg.fallback;
  const kafka = (process.env[SERVICE_SETTINGS.kafka.env] ?? SERVICE_SETTINGS.kafka.fallback).replace(/^kafka:\/\//, '');
  const machine: Record<string, unknown> = {
    cores: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    loadAverageStart: os.loadavg().map((x) => Math.round(x * 100) / 100),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    postgres: await postgresVersion(pgUrl),
    kafka: { bootstrap: kafka, version: kafkaVersion() },
  };
  log(`${command}: ${entries.map((e) => e.name).join(', ')}; ${machineLine(machine)}`);

  const done = new Map<string, BenchRecord>();
  const benches: BenchRecord[] = [];
  for (const entry of entries) {
    if (entry.requires && !(await heraldSupports(entry.requires.command, entry.requires.flag))) {
      log(`${entry.name}: skipped: ${entry.requires.why}`);
      benches.push({
        name: entry.name,
        script: `bench/${entry.script}`,
        what: entry.what,
        args: [],
        exitCode: null,
        seconds: 0,
        results: [],
        skipped: entry.requires.why,
      });
      continue;
    }
    const args = entry.args(quick, done);
    log(`${entry.name}: node --import tsx bench/${entry.script} ${args.join(' ')}`);
    const record = await runEntry(entry, args, quick ? 300_000 : 3_600_000);
    log(
      `${entry.name}: ${record.error ? `FAILED (${record.error})` : 'ok'} in ${record.seconds} s, ${record.results.length} result line(s)`,
    );
    benches.push(record);
    done.set(entry.name, record);
  }
  machine.loadAverageEnd = os.loadavg().map((x) => Math.round(x * 100) / 100);

  // `--only` replaces those benches in the last run's file and keeps the others, so that one bench
  // can be run again without losing the rest of the figures.
  const previous = only ? await previousRun() : undefined;
  const all = previous
    ? ENTRIES.flatMap((e) => benches.find((b) => b.name === e.name) ?? previous.benches.find((b) => b.name === e.name) ?? [])
    : benches;
  const summary = summarize(all.flatMap((b) => b.results));
  const report = {
    command: previous ? `${previous.command}, then ${command} (${previous.date})` : command,
    quick,
    date: started.toISOString(),
    durationSeconds: Math.round((performance.now() - t0) / 1000),
    machine,
    note: quick
      ? 'quick run: small sizes, one round; the figures show that every bench works, not what Herald does'
      : 'full run: the default sizes of every bench',
    summary,
    benches: all,
  };
  await mkdir(RESULTS_DIR, { recursive: true });
  await writeFile(`${RESULTS_DIR}latest.json`, `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(`${RESULTS_DIR}chart.svg`, renderChart(summary, chartCaption(report)));
  process.stdout.write(markdownReport({ summary, machine, date: report.date, command, quick }));
  const failed = benches.filter((b) => b.error !== undefined);
  log(
    `wrote bench/results/latest.json and bench/results/chart.svg in ${report.durationSeconds} s` +
      (failed.length > 0 ? `; FAILED: ${failed.map((b) => b.name).join(', ')}` : ''),
  );
  if (failed.length > 0) process.exitCode = 1;
}

/** The benches of `bench/results/latest.json`, if there is one. */
async function previousRun(): Promise<{ command: string; date: string; benches: BenchRecord[] } | undefined> {
  const text = await readFile(`${RESULTS_DIR}latest.json`, 'utf8').catch(() => undefined);
  return text === undefined ? undefined : (JSON.parse(text) as { command: string; date: string; benches: BenchRecord[] });
}

await main();
