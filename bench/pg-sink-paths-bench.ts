// How a batch of rows best reaches the PostgreSQL warehouse: the same rows (built by Herald's
// RowBuilder from the same events, in memory, no broker) into the same Herald table, through
//
//   json    PostgresSink.write: one JSON text, INSERT ... SELECT (r->>i)::type FROM jsonb_array_elements($1)
//   unnest  one text[] parameter per column (pg escapes every element), INSERT ... SELECT col::type FROM unnest(...)
//   typed   one array literal per column, cast by the server to the column's array type, SELECT * FROM unnest(...)
//
// each with ON CONFLICT (_event_id) DO NOTHING in one transaction per batch, rounds rotating the
// order. The figure is the CPU per 1,000 rows of this process and of PostgreSQL: a path that is
// cheaper for the server but dearer for the client gains nothing on a machine they share.
//
//   node --import tsx bench/pg-sink-paths-bench.ts [--rows 200000] [--rounds 3] [--batch 5000]
import { performance } from 'node:perf_hooks';
import { metaColumnTypes, postgresType } from '../src/warehouse/ddl.js';
import { PostgresSink } from '../src/warehouse/postgres-sink.js';
import { RowBuilder, type LoadBatch } from '../src/warehouse/rows.js';
import { metaColumns, planTables } from '../src/warehouse/table-plan.js';
import { cpuMeter, perThousand } from './cpu-accounting.js';
import {
  BenchError,
  deferCleanup,
  incomingOrders,
  log,
  machineFacts,
  median,
  orderContracts,
  pgConnect,
  printResult,
  readSettings,
  round1,
  runBench,
  SERVICE_SETTINGS,
  suffix,
  table,
  type Setting,
} from './common.js';

// PostgreSQL only: no broker takes part.
const SETTINGS = {
  pg: SERVICE_SETTINGS.pg,
  rows: { env: 'BENCH_SINK_ROWS', fallback: '200000', help: 'rows written by every path, every round' },
  rounds: { env: 'BENCH_SINK_ROUNDS', fallback: '3', help: 'rounds (the median is reported)' },
  batch: { env: 'BENCH_SINK_BATCH', fallback: '5000', help: 'rows per transaction, as the loader batches them' },
} satisfies Record<string, Setting>;

const PATHS = ['json', 'unnest', 'typed'] as const;
type Path = (typeof PATHS)[number];

/** An array literal (`{"a",NULL}`) of text values, for a server-side cast to any array type. */
function arrayLiteral(values: readonly (string | null)[]): string {
  const parts = new Array<string>(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    parts[i] = v === null || v === undefined ? 'NULL' : `"${v.replace(/[\\"]/g, '\\$&')}"`;
  }
  return `{${parts.join(',')}}`;
}

async function main(): Promise<void> {
  const { get, int } = readSettings(SETTINGS, 'bench/pg-sink-paths-bench.ts');
  const cfg = { pg: get('pg'), rows: int('rows'), rounds: int('rounds'), batch: int('batch') };
  const db = await pgConnect(cfg.pg);
  deferCleanup('closing the PostgreSQL connection', () => db.end());
  const machine = await machineFacts({}, db);
  const contracts = orderContracts('memory');
  const events = incomingOrders(cfg.rows);

  /** One path, into a fresh schema; returns rows/s and CPU ms per 1,000 rows. */
  const run = async (path: Path): Promise<{ rowsPerSecond: number; cpuMsPer1000Rows: Record<string, number> }> => {
    const schema = `bench_sink_${suffix}_${Math.random().toString(36).slice(2, 8)}`;
    const sink = new PostgresSink({ url: cfg.pg, schema });
    try {
      const plans = await sink.prepare(planTables(contracts.list()));
      const plan = plans[0]!;
      // Rows are built before the clock starts: the paths differ only in how they travel.
      const builder = new RowBuilder(contracts, plans, undefined);
      const batches: LoadBatch[] = [];
      for (let i = 0; i < events.length; i += cfg.batch) batches.push(builder.build(events.slice(i, i + cfg.batch)));
      const names = [...metaColumns, ...plan.columns.map((c) => c.name)];
      const types = [...metaColumns.map((m) => metaColumnTypes.postgres[m]), ...plan.columns.map((c) => postgresType(c.type))];
      const q = (n: string): string => `"${n}"`;
      const into = `INSERT INTO ${q(schema)}.${q(plan.table)} (${names.map(q).join(', ')}) `;
      const sql =
        path === 'unnest'
          ? `${into}SELECT ${names.map((n, i) => `${q(n)}::${types[i]}`).join(', ')} FROM unnest(${names.map((_, i) => `$${i + 1}::text[]`).join(', ')}) AS s(${names.map(q).join(', ')}) ON CONFLICT (_event_id) DO NOTHING`
          : `${into}SELECT * FROM unnest(${names.map((_, i) => `$${i + 1}::${types[i]}[]`).join(', ')}) ON CONFLICT (_event_id) DO NOTHING`;
      const meter = cpuMeter();
      const t0 = performance.now();
      for (const batch of batches) {
        if (path === 'json') {
          await sink.write(batch);
          continue;
        }
        const rows = batch.rows.get(plan)!;
        const columns = names.map((_, c) => rows.map((r) => r.values[c] ?? null));
        await db.query('BEGIN');
        const params: unknown[] = path === 'unnest' ? columns : columns.map(arrayLiteral);
        await db.query(sql, params);
        await db.query('COMMIT');
      }
      const seconds = (performance.now() - t0) / 1000;
      const use = meter.stop();
      const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${q(schema)}.${q(plan.table)}`);
      if (rows[0]!.n !== cfg.rows) throw new BenchError(`${path}: ${rows[0]!.n} rows in the table, expected ${cfg.rows}`);
      const { bench, postgres } = perThousand(use, cfg.rows);
      return { rowsPerSecond: Math.round(cfg.rows / seconds), cpuMsPer1000Rows: { bench, postgres, both: round1(bench + postgres) } };
    } finally {
      await sink.close();
      await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    }
  };

  const runs: { round: number; path: Path; rowsPerSecond: number; cpuMsPer1000Rows: Record<string, number> }[] = [];
  for (let round = 0; round <= cfg.rounds; round++) {
    // Round 0 warms up the JIT, the plans and the buffers; it is not reported.
    for (let i = 0; i < PATHS.length; i++) {
      const path = PATHS[(i + round) % PATHS.length]!;
      const r = await run(path);
      log(
        `round ${round}${round === 0 ? ' (warm-up)' : ''}: ${path}: ${r.rowsPerSecond} rows/s, CPU ms per 1000 rows ${JSON.stringify(r.cpuMsPer1000Rows)}`,
      );
      if (round > 0) runs.push({ round, path, ...r });
    }
  }
  const of = (path: Path, f: (r: (typeof runs)[number]) => number): number => median(runs.filter((r) => r.path === path).map(f));
  const summary = PATHS.map((path) => ({
    path,
    rowsPerSecond: of(path, (r) => r.rowsPerSecond),
    cpuMsPer1000Rows: {
      bench: of(path, (r) => r.cpuMsPer1000Rows.bench!),
      postgres: of(path, (r) => r.cpuMsPer1000Rows.postgres!),
      both: of(path, (r) => r.cpuMsPer1000Rows.both!),
    },
  }));
  printResult({ bench: 'pg-sink-paths', rows: cfg.rows, rounds: cfg.rounds, batch: cfg.batch, summary, runs, machine });
  process.stdout.write(
    '\n' +
      table(
        ['path', 'rows/s', 'this process, CPU ms / 1000 rows', 'PostgreSQL, CPU ms / 1000 rows', 'both'],
        summary.map((s) => [s.path, s.rowsPerSecond, s.cpuMsPer1000Rows.bench, s.cpuMsPer1000Rows.postgres, s.cpuMsPer1000Rows.both]),
      ) +
      '\n',
  );
}

await runBench(main);
