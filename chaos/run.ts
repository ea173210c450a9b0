// `npm run chaos`: runs the fault matrix (or `--quick`, or `--only name[,name]`) against a private
// PostgreSQL and a private Kafka, prints the table and writes chaos/results/latest.json.
// Exit code 1 when any committed event was lost or a violation happened without a stated reason.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CLI } from './relay-process.js';
import { runScenario, startEnvironment, type RowResult } from './harness.js';
import { scenarios } from './scenarios/index.js';
import type { BrokerKind, Scenario, SourceKind } from './scenario.js';
import { markdownTable } from './table.js';

/** The scenario runs a selection asks for, in matrix order (every source of a broker, broker by broker). */
export function select(
  all: readonly Scenario[],
  options: { quick?: boolean; only?: string[]; source?: SourceKind; broker?: BrokerKind },
): [Scenario, SourceKind, BrokerKind][] {
  const unknown = (options.only ?? []).filter((n) => !all.some((s) => s.name === n));
  if (unknown.length > 0) throw new Error(`unknown scenario(s) ${unknown.join(', ')}; known: ${all.map((s) => s.name).join(', ')}`);
  const runs: [Scenario, SourceKind, BrokerKind][] = [];
  for (const s of all) {
    if (options.only && !options.only.includes(s.name)) continue;
    // The quick subset (CI) runs against the private Kafka only: it needs no shared service.
    const brokers = options.quick ? (['kafka'] as const) : (s.brokers ?? ['kafka']);
    const sources = options.quick ? (s.quick ?? []) : s.sources;
    for (const broker of brokers) {
      if (options.broker && options.broker !== broker) continue;
      for (const source of sources) if (!options.source || options.source === source) runs.push([s, source, broker]);
    }
  }
  return runs;
}

/** Runs the selection and writes the result file; resolves with the rows. */
export async function runMatrix(
  runs: readonly (readonly [Scenario, SourceKind, BrokerKind?])[],
  options: { resultsDir?: string; log?: (line: string) => void; write?: boolean; merge?: boolean } = {},
): Promise<{ rows: RowResult[]; failed: boolean; file?: string }> {
  const resultsDir = options.resultsDir ?? fileURLToPath(new URL('./results/', import.meta.url));
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run 'npm run build' first (the relays run the built CLI)`);
  const started = Date.now();
  const env = await startEnvironment(join(resultsDir, 'logs'));
  const rows: RowResult[] = [];
  try {
    log(
      `chaos: private PostgreSQL ${env.pg.version} on ${env.pg.port}, Kafka ${env.kafka.version} on ${env.kafka.port} (relay via proxy ${env.kafkaProxy.port})`,
    );
    for (const [scenario, source, broker] of runs) rows.push(await runScenario(env, scenario, source, { log, broker: broker ?? 'kafka' }));
  } finally {
    await env.close();
  }
  const failed = rows.some((r) => r.verdict === 'fail' || r.lost > 0);
  let file: string | undefined;
  if (options.write !== false) {
    mkdirSync(resultsDir, { recursive: true });
    file = join(resultsDir, 'latest.json');
    const totalS = Math.round((Date.now() - started) / 1000);
    // A partial selection replaces its own rows in the last file and keeps the others.
    const key = (r: RowResult): string => `${r.scenario}/${r.source}/${r.broker}`;
    const earlier: RowResult[] =
      options.merge && existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { rows: RowResult[] }).rows : [];
    const fresh = new Set(rows.map(key));
    const all = [...earlier.filter((r) => !fresh.has(key(r))), ...rows];
    writeFileSync(
      file,
      `${JSON.stringify({ machine: env.facts, totalS, failed: all.some((r) => r.verdict === 'fail' || r.lost > 0), rows: all }, null, 2)}\n`,
    );
  }
  return { rows, failed, ...(file ? { file } : {}) };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean' },
      only: { type: 'string' },
      source: { type: 'string' },
      broker: { type: 'string' },
      list: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(
      'usage: node --import tsx chaos/run.ts [--quick] [--only name[,name]] [--source polling|logical] [--broker kafka|rabbitmq] [--list]\n' +
        '  --quick   the CI subset (under 3 minutes)\n  --only    these scenarios (see --list)\n  --source  only runs with this relay source\n  --broker  only runs against this broker\n',
    );
    return;
  }
  if (values.list) {
    for (const s of scenarios)
      process.stdout.write(
        `${s.name.padEnd(32)} ${s.sources.join(',').padEnd(16)} ${(s.brokers ?? ['kafka']).join(',').padEnd(16)} ${s.title}\n`,
      );
    return;
  }
  if (values.source !== undefined && values.source !== 'polling' && values.source !== 'logical') {
    throw new Error(`--source must be polling or logical, got '${values.source}'`);
  }
  if (values.broker !== undefined && values.broker !== 'kafka' && values.broker !== 'rabbitmq') {
    throw new Error(`--broker must be kafka or rabbitmq, got '${values.broker}'`);
  }
  const runs = select(scenarios, {
    ...(values.quick ? { quick: true } : {}),
    ...(values.only ? { only: values.only.split(',') } : {}),
    ...(values.source ? { source: values.source as SourceKind } : {}),
    ...(values.broker ? { broker: values.broker as BrokerKind } : {}),
  });
  if (runs.length === 0) throw new Error('nothing selected to run');
  const partial = values.quick === true || values.only !== undefined || values.source !== undefined || values.broker !== undefined;
  const { rows, failed, file } = await runMatrix(runs, { merge: partial });
  process.stdout.write(`\n${markdownTable(rows)}\n\n`);
  for (const r of rows) for (const n of r.notes) process.stdout.write(`- ${r.scenario} (${r.source}, ${r.broker}): ${n}\n`);
  process.stdout.write(
    `\nwrote ${file}\n${failed ? 'FAILED: a committed event was lost or a violation has no stated reason' : 'OK: nothing committed was lost'}\n`,
  );
  process.exitCode = failed ? 1 : 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    process.stderr.write(`chaos: ${(err as Error).message}\n`);
    process.exitCode = 2;
  });
}
