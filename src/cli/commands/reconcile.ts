import { ContractRegistry } from '../../contracts/registry.js';
import { HeraldError, ErrorCodes } from '../../errors.js';
import { runReconcile, type ReconcileRun } from '../../patterns/reconcile-run.js';
import type { ReconcileGroup, SourceReconciliation } from '../../patterns/reconcile.js';
import { loadConfig, required } from '../config.js';
import { printResult, table } from '../output.js';
import { progressLine } from '../progress.js';

/** Flags of `herald reconcile`. */
export interface ReconcileFlags {
  config?: string;
  /** `postgres://` URL of the service database the expected-events query runs on. */
  database?: string;
  /** The query: `SELECT ... AS id, ... AS contract (or type), ... AS time FROM ...`. */
  expectedSql?: string;
  /** `kafka://host:port[,host:port]`: the broker to check. */
  broker?: string;
  /** The same as `broker`, as `herald relay` accepts it. */
  kafka?: string;
  /** Topics to read (default: the contracts' topics, renamed by the config's `topics` map). */
  topics?: string[];
  /** `duckdb:<file>` or `postgres://...?schema=`: the warehouse to check. */
  warehouse?: string;
  /** Contract folder: the default topics, and the warehouse tables to read. */
  contracts?: string;
  /** Window size: `30s`, `5m`, `1h`, `1d`. */
  window?: string;
  /** Only events at or after this ISO 8601 time. */
  since?: string;
  /** Only events before this ISO 8601 time (leave out the newest, still in flight). */
  until?: string;
  /** Longest the Kafka read may take, in ms. */
  timeout?: number;
  json?: boolean;
}

/** How many ids of one category the human output shows; `--json` has them all. */
const SHOWN = 10;

/**
 * `herald reconcile`: compares the events a service's records say should exist (`--expected-sql`
 * on `--database`) with what reached the broker (`--broker kafka://...`, `--topics` or the
 * contracts' topics) and the warehouse (`--warehouse`), per contract and `--window`, within
 * `--since`/`--until`. Prints a table per source and up to 10 ids per non-zero category
 * (`--json`: the whole {@link ReconcileRun}), and resolves to the run. Sets `process.exitCode = 1`
 * when anything is missing, duplicated or unexpected, so it can gate CI or alerting. Bad options
 * throw `CONFIG_INVALID`; nothing is written anywhere. While Kafka is read, a progress line goes to
 * stderr when it is a terminal and not `--json`.
 */
export async function reconcileCommand(flags: ReconcileFlags): Promise<ReconcileRun> {
  const config = await loadConfig(
    Object.fromEntries(
      Object.entries({
        config: flags.config,
        database: flags.database,
        broker: flags.broker,
        kafka: flags.kafka,
        warehouse: flags.warehouse,
        contracts: flags.contracts,
      }).filter(([, v]) => v !== undefined),
    ),
  );
  const database = required(config, 'database', '--database', 'HERALD_DATABASE_URL');
  if (typeof flags.expectedSql !== 'string' || flags.expectedSql.trim() === '') {
    throw new HeraldError(
      ErrorCodes.CONFIG_INVALID,
      'missing option \'expectedSql\': pass --expected-sql "SELECT ... AS id, ... AS contract, ... AS time FROM ..."',
      { details: { option: 'expectedSql' } },
    );
  }
  const contracts = config.contracts ? (await ContractRegistry.fromDir(config.contracts)).list() : undefined;
  // The relay may rename topics (config `topics`); the broker holds them under the new names.
  const renamed = contracts ? [...new Set(contracts.map((c) => config.topics?.[c.topic] ?? c.topic))].sort() : undefined;
  const topics = flags.topics?.length ? flags.topics : renamed;
  const broker = config.broker ?? config.kafka;
  if (flags.timeout !== undefined && !(Number.isInteger(flags.timeout) && flags.timeout > 0)) {
    throw new HeraldError(ErrorCodes.CONFIG_INVALID, "option 'timeout' must be a positive number of milliseconds", {
      details: { option: 'timeout' },
    });
  }
  // Reading a large topic takes a while; a person at a terminal sees how far it got.
  const progress = progressLine('reading kafka (offsets)', { json: flags.json === true });
  const run = await runReconcile({
    database,
    expectedSql: flags.expectedSql,
    ...(broker === undefined ? {} : { broker }),
    ...(topics === undefined ? {} : { topics }),
    ...(config.warehouse === undefined ? {} : { warehouse: config.warehouse }),
    ...(contracts === undefined ? {} : { contracts }),
    ...(flags.window === undefined ? {} : { window: flags.window }),
    ...(flags.since === undefined ? {} : { from: isoTime(flags.since, 'since') }),
    ...(flags.until === undefined ? {} : { to: isoTime(flags.until, 'until') }),
    ...(flags.timeout === undefined ? {} : { timeoutMs: flags.timeout }),
    onKafkaProgress: (read, total) => progress.update(read, total),
  }).finally(() => progress.end());
  printResult(flags.json === true, run, () => human(run));
  if (!run.ok) process.exitCode = 1;
  return run;
}

function isoTime(value: string, option: string): string {
  if (Number.isNaN(Date.parse(value))) {
    throw new HeraldError(
      ErrorCodes.CONFIG_INVALID,
      `option '${option}' must be an ISO 8601 time such as 2026-01-31T00:00:00Z, got '${String(value).slice(0, 40)}'`,
      { details: { option } },
    );
  }
  return value;
}

function human(run: ReconcileRun): string {
  const bounds =
    run.from === null && run.to === null ? 'all time' : `${run.from ?? 'the beginning'} to ${run.to === null ? 'now' : `before ${run.to}`}`;
  const lines = [
    `expected ${run.expected} event(s) (${run.inputs.expectedRows} row(s) from the query), ${bounds}${run.window === null ? '' : `, in ${run.window} windows`}`,
  ];
  if (run.expectedDuplicated.length > 0) {
    lines.push(
      `warning: the expected-events query lists ${run.expectedDuplicated.length} id(s) more than once: ${ids(run.expectedDuplicated)}`,
    );
  }
  for (const source of run.sources) {
    lines.push('', `${source.source}: ${describeInput(run, source.source)}`);
    const dead = source.source === 'warehouse';
    if (source.groups.length === 0) lines.push('  nothing expected and nothing found');
    else {
      lines.push(
        table(
          ['contract', 'window', 'expected', 'observed', 'missing', 'duplicated', 'unexpected', ...(dead ? ['dead-lettered'] : [])],
          [
            ...source.groups.map((g) => row(g.contract, windowLabel(run, g), g.counts, dead)),
            ...(source.groups.length > 1 ? [row('total', '', source.totals, dead)] : []),
          ],
        ),
      );
    }
    lines.push(...details(run, source));
    lines.push(source.ok ? `${source.source}: ok` : `${source.source}: ${problems(source)}`);
  }
  return lines.join('\n');
}

function row(contract: string, window: string, c: ReconcileGroup['counts'], dead: boolean): (string | number)[] {
  return [contract, window, c.expected, c.observed, c.missing, c.duplicated, c.unexpected, ...(dead ? [c.deadLettered] : [])];
}

function details(run: ReconcileRun, source: SourceReconciliation): string[] {
  const lines: string[] = [];
  for (const g of source.groups) {
    const categories = [
      ['missing', g.missing],
      ['duplicated', g.duplicated],
      ['unexpected', g.unexpected],
      ['dead-lettered', g.deadLettered],
    ] as const;
    for (const [name, list] of categories) {
      if (list.length > 0) lines.push(`  ${g.contract} ${windowLabel(run, g)} ${name} (${list.length}): ${ids(list)}`);
    }
  }
  return lines;
}

function ids(list: readonly string[]): string {
  const shown = list.slice(0, SHOWN).join(', ');
  return list.length > SHOWN ? `${shown} … and ${list.length - SHOWN} more (--json lists them all)` : shown;
}

function windowLabel(run: ReconcileRun, g: ReconcileGroup): string {
  if (g.window) return g.window.start;
  return run.window === null ? 'all' : 'no time';
}

function problems(source: SourceReconciliation): string {
  const t = source.totals;
  return [
    t.missing > 0 ? `${t.missing} missing` : '',
    t.duplicated > 0 ? `${t.duplicated} duplicated` : '',
    t.unexpected > 0 ? `${t.unexpected} unexpected` : '',
  ]
    .filter(Boolean)
    .join(', ');
}

function describeInput(run: ReconcileRun, source: string): string {
  const { kafka, warehouse } = run.inputs;
  if (source === 'kafka' && kafka) return `${kafka.messages} message(s) in topic(s) ${kafka.topics.map((t) => `'${t}'`).join(', ')}`;
  if (source === 'warehouse' && warehouse) {
    return `${warehouse.rows} row(s) in ${warehouse.tables.length} table(s) and ${warehouse.deadLetters} dead letter(s) at ${warehouse.url}`;
  }
  return '';
}
