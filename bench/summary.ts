// The figures of one `npm run bench` run, taken from the JSON lines of its benchmarks: every
// throughput as a ratio to its ceiling measured in the same run, the latency percentiles, the
// scale curve and the peak memory. bench/chart.ts draws them and bench/report.ts prints them;
// both read only this, so the chart, the table and the README say the same.

/** One JSON line of one benchmark, as printed (`bench` names its kind). */
export type BenchLine = Record<string, unknown> & { bench?: string };

/** A throughput divided by the ceiling it is compared with, and the goal of issue 14 (or of the bench). */
export interface RatioFigure {
  readonly label: string;
  readonly value: number;
  /** What the figure is divided by. */
  readonly ceiling: string;
  readonly goal?: number;
}

export interface LatencyFigure {
  readonly variant: string;
  /** The rate as asked (`10000`, `70%`). */
  readonly rateSpec: string;
  readonly rate: number;
  readonly achievedRate: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

export interface ScaleFigure {
  readonly variant: string;
  readonly processes: number;
  readonly eventsPerSec: number;
}

export interface MemoryFigure {
  readonly label: string;
  readonly events: number;
  readonly peakRssMiB: number;
  readonly goal?: number;
}

export interface Summary {
  readonly ratios: readonly RatioFigure[];
  readonly latency: readonly LatencyFigure[];
  /** The goal for every latency p99, in ms. */
  readonly latencyGoalP99Ms: number;
  readonly scale: readonly ScaleFigure[];
  readonly memory: readonly MemoryFigure[];
}

/** Goals of issue 14 for the figures it names. */
export const GOALS = {
  pollingVsRaw: 0.85,
  logicalWalVsRaw: 0.9,
  logicalTableVsRaw: 0.8,
  appendVsHandWritten: 0.95,
  loaderVsConsumeOnly: 0.8,
  latencyP99Ms: 50,
  relayPeakRssMiB: 256,
} as const;

const num = (x: unknown): number | undefined => (typeof x === 'number' && Number.isFinite(x) ? x : undefined);
const obj = (x: unknown): Record<string, unknown> => (x !== null && typeof x === 'object' ? (x as Record<string, unknown>) : {});
const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/** Adds a ratio when both of its numbers are there (a bench that failed or was skipped leaves a gap, not a zero). */
function ratio(out: RatioFigure[], label: string, top: unknown, bottom: unknown, ceiling: string, goal?: number): void {
  const a = num(top);
  const b = num(bottom);
  if (a === undefined || b === undefined || b === 0) return;
  out.push({ label, value: round3(a / b), ceiling, ...(goal === undefined ? {} : { goal }) });
}

/**
 * The figures in `lines` (every JSON line of one run, any order). Lines of kinds it does not know
 * are left out; a figure whose inputs are missing is left out, never guessed.
 */
export function summarize(lines: readonly BenchLine[]): Summary {
  const ratios: RatioFigure[] = [];
  const latency: LatencyFigure[] = [];
  const scale: ScaleFigure[] = [];
  const memory: MemoryFigure[] = [];
  const first = (kind: string): Record<string, unknown> | undefined => lines.find((l) => l.bench === kind);
  let latencyGoal: number = GOALS.latencyP99Ms;

  const relay = first('relay-throughput');
  const raw = obj(relay?.eventsPerSec).raw;
  if (relay) ratio(ratios, 'polling relay (outbox-bench)', obj(relay.eventsPerSec).herald, raw, 'raw Kafka producer', GOALS.pollingVsRaw);
  const drain = first('relay-source-drain');
  if (drain && obj(drain.config).publisher !== 'discard') {
    const rates = obj(drain.eventsPerSec);
    // The raw producer of outbox-bench is the ceiling of every source: same broker, same batch size (run-all passes it).
    ratio(ratios, 'polling source', rates.polling, raw, 'raw Kafka producer', GOALS.pollingVsRaw);
    ratio(ratios, 'logical source, table mode', rates.logicalTable, raw, 'raw Kafka producer', GOALS.logicalTableVsRaw);
    ratio(ratios, 'logical source, WAL messages', rates.logicalWal, raw, 'raw Kafka producer', GOALS.logicalWalVsRaw);
  }
  const write = first('write-overhead');
  if (write) {
    const tx = obj(write.txPerSec);
    ratio(ratios, 'append, PostgreSQL (outbox-bench)', tx.herald, tx.handWritten, 'hand-written INSERT', GOALS.appendVsHandWritten);
  }
  for (const l of lines.filter((x) => x.bench === 'store-write')) {
    const label = `append, ${String(l.store)}${l.notifyTrigger === false ? ' (no NOTIFY)' : ''} × ${String(l.layer)}`;
    // The bench's own figure, the median of the per-round ratios (each round runs the variants
    // back to back), when it has one: the ratio of the median rates mixes rounds, and when the
    // machine drifts between rounds the two differ by 0.1 or more.
    if (typeof l.ratio === 'number') ratio(ratios, label, l.ratio, 1, 'hand-written INSERT', GOALS.appendVsHandWritten);
    else ratio(ratios, label, l.heraldTxPerSec, l.handWrittenTxPerSec, 'hand-written INSERT', GOALS.appendVsHandWritten);
  }
  const mysqlWrite = first('mysql-write-overhead');
  if (mysqlWrite) {
    const tx = obj(mysqlWrite.txPerSec);
    ratio(ratios, 'append, MySQL (mysql-bench)', tx.herald, tx.handWritten, 'hand-written INSERT', GOALS.appendVsHandWritten);
  }
  const mysqlRelay = first('mysql-relay-drain');
  if (mysqlRelay) {
    const r = obj(mysqlRelay.eventsPerSec);
    ratio(ratios, 'MySQL polling relay', r.herald, r.raw, 'raw Kafka producer', GOALS.pollingVsRaw);
  }
  const load = first('load');
  if (load) {
    const consumeOnly = obj(load.components).consumerOnlyRowsPerSecond;
    for (const s of Array.isArray(load.summary) ? load.summary.map(obj) : [])
      ratio(
        ratios,
        `loader → ${String(s.warehouse)}`,
        s.heraldRowsPerSecond,
        // Measured in every round next to the loaders (load-bench); older files have one figure.
        s.consumeOnlyRowsPerSecond ?? consumeOnly,
        'consume-only Kafka consumer',
        GOALS.loaderVsConsumeOnly,
      );
  }
  const txn = first('kafka-transactions');
  if (txn)
    ratio(
      ratios,
      'relay with Kafka transactions',
      obj(txn.eventsPerSec).transactional,
      obj(txn.eventsPerSec).idempotent,
      'idempotent producer',
    );
  const metrics = first('metrics-cost');
  if (metrics && num(metrics.ratio) !== undefined)
    ratios.push({ label: 'relay with --metrics', value: num(metrics.ratio)!, ceiling: 'relay without', goal: 0.97 });
  const contracts = first('contract-validation');
  for (const c of Array.isArray(contracts?.results) ? contracts.results.map(obj) : [])
    ratio(ratios, `validation, ${String(c.contract)}`, c.heraldPerSecond, c.rawAjvPerSecond, 'raw ajv', 0.9);

  for (const lat of lines.filter((x) => x.bench === 'relay-source-latency')) {
    latencyGoal = num(obj(lat.goal).p99Ms) ?? latencyGoal;
    // Runs with the idempotent producer alone are told apart from the default (transactions).
    const producer = obj(lat.config).kafkaTransactions === false ? ' (idempotent)' : '';
    for (const [name, runs] of Object.entries(obj(lat.variants))) {
      const variant = `${name}${producer}`;
      for (const r of Array.isArray(runs) ? runs.map(obj) : []) {
        const ms = obj(r.latencyMs);
        const p50 = num(ms.p50);
        const p99 = num(ms.p99);
        if (p50 === undefined || p99 === undefined) continue;
        latency.push({
          variant,
          rateSpec: String(r.rateSpec),
          rate: num(r.rate) ?? 0,
          achievedRate: num(r.achievedRate) ?? 0,
          p50,
          p90: num(ms.p90) ?? p99,
          p99,
          max: num(ms.max) ?? p99,
        });
      }
    }
  }

  for (const l of lines.filter((x) => x.bench === 'relay-scale')) {
    for (const r of Array.isArray(l.runs) ? l.runs.map(obj) : []) {
      const k = num(r.processes);
      const rate = num(r.eventsPerSec);
      if (k !== undefined && rate !== undefined) scale.push({ variant: String(l.variant ?? 'default'), processes: k, eventsPerSec: rate });
    }
  }
  for (const l of lines.filter((x) => x.bench === 'relay-memory' || x.bench === 'loader-memory')) {
    const peak = num(l.peakRssMiB);
    if (peak === undefined) continue;
    const events = num(obj(l.config).events) ?? 0;
    if (l.bench === 'relay-memory') memory.push({ label: 'herald relay, backlog', events, peakRssMiB: peak, goal: GOALS.relayPeakRssMiB });
    else memory.push({ label: 'herald load, topic', events, peakRssMiB: peak });
  }
  return { ratios, latency, latencyGoalP99Ms: latencyGoal, scale, memory };
}
