import type { Contract } from '../contracts/contract.js';
import { HeraldError, ErrorCodes } from '../errors.js';
import { connectPg, redactUrl, type PgClient } from '../postgres/connect.js';
import { quoteIdent } from '../postgres/identifiers.js';
import { checkSql } from './check-sql.js';
import { describeThreshold, satisfies } from './check-threshold.js';
import { planChecks, type CheckName, type PlannedCheck } from './contract-checks.js';
import type { DdlTarget } from './ddl.js';
import { firstLine, openDuckDbReader } from './duckdb-instance.js';
import { withoutValues } from './sink.js';
import { planTables } from './table-plan.js';
import { parseWarehouseUrl } from './warehouse-url.js';

/** `pass`: the data meets the rule; `fail`: it does not; `error`: the rule could not be measured. */
export type CheckStatus = 'pass' | 'fail' | 'error';

/** The outcome of one check, as `herald contract test --json` prints it. */
export interface CheckResult {
  /** The contract id. */
  readonly contract: string;
  readonly table: string;
  readonly check: CheckName;
  readonly column?: string;
  readonly status: CheckStatus;
  /** The measured number (rows, percent or seconds, see `unit`); null when nothing could be measured. */
  readonly observed: number | null;
  /** What the contract asks, e.g. `= 0 rows`, `> 100 rows`, `<= 3600 s`, or `exists`. */
  readonly expected: string;
  readonly unit: PlannedCheck['unit'];
  /** One line a person can act on: what was found, and for a missing table what to run. */
  readonly message: string;
}

/** Options of {@link runContractTests}. */
export interface ContractTestOptions {
  /** `duckdb:<file>` or `postgres://user@host/db?schema=name` (`schema` defaults to `public`). */
  readonly warehouse: string;
  /** Every version of the contracts to test; their tables are planned as the loader plans them. */
  readonly contracts: readonly Contract[];
}

/**
 * Runs each contract's checks (see `planChecks`) against its warehouse table and resolves to one
 * result per check, in plan order. Read only: DuckDB is opened read-only (or through this
 * process's writer), PostgreSQL is read in one `READ ONLY` transaction, each check in its own
 * savepoint so one failing query does not stop the others. A table that does not exist is one
 * failed `table_exists` check (its other checks are not run); a column the table lacks, a rule
 * Herald cannot run, or a query the warehouse rejects is an `error` result. Rejects only for what
 * stops every check: `CONFIG_INVALID` for a bad URL or schema name or a DuckDB file that does not
 * exist, `DATABASE_ERROR` when the warehouse cannot be reached.
 */
export async function runContractTests(options: ContractTestOptions): Promise<CheckResult[]> {
  const at = parseWarehouseUrl(options.warehouse);
  // planTables needs a key only to plan hashed columns; their values are never read here.
  const plans = planTables(options.contracts, { piiKey: Buffer.alloc(32) });
  const session = at.dialect === 'duckdb' ? await duckDbSession(at.file) : await postgresSession(at.url, at.schema ?? 'public');
  try {
    const catalog = await session.catalog();
    const results: CheckResult[] = [];
    for (const plan of plans) {
      const columns = catalog.get(plan.table);
      for (const check of planChecks(plan)) {
        if (check.check === 'table_exists') {
          results.push(tableExists(check, columns !== undefined, session.where));
          if (columns === undefined) break;
          continue;
        }
        results.push(await measure(check, columns!, session));
      }
    }
    return results;
  } finally {
    await session.close();
  }
}

/** A read-only view of one warehouse for the checks. */
interface CheckSession {
  readonly target: DdlTarget;
  /** The warehouse as messages name it (file, or schema at server without password). */
  readonly where: string;
  /** Every table of the schema with its columns. */
  catalog(): Promise<Map<string, Set<string>>>;
  /** Runs one check query; rejects with the warehouse's message. */
  row(sql: string): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

function tableExists(check: PlannedCheck, exists: boolean, where: string): CheckResult {
  return {
    contract: check.contract,
    table: check.table,
    check: 'table_exists',
    status: exists ? 'pass' : 'fail',
    observed: null,
    expected: 'exists',
    unit: 'rows',
    message: exists
      ? `table '${check.table}' exists`
      : `table '${check.table}' does not exist in ${where}; run herald load with these contracts first`,
  };
}

async function measure(check: PlannedCheck, columns: ReadonlySet<string>, session: CheckSession): Promise<CheckResult> {
  const base = {
    contract: check.contract,
    table: check.table,
    check: check.check,
    ...(check.column === undefined ? {} : { column: check.column }),
  };
  const unit = check.unit;
  const error = (expected: string, message: string): CheckResult => ({ ...base, status: 'error', observed: null, expected, unit, message });
  if ('invalid' in check.threshold) return error('-', check.threshold.invalid);
  const expected = describeThreshold(check.threshold, unitLabel(unit));
  const needed = [...measuredColumns(check), ...(check.versions ? ['_contract_version'] : [])];
  const lacking = needed.filter((c) => !columns.has(c));
  if (lacking.length > 0) {
    return error(expected, `table '${check.table}' has no column ${lacking.map((c) => `'${c}'`).join(', ')}; run herald load to add it`);
  }
  let row: Record<string, unknown>;
  try {
    row = await session.row(checkSql(check, session.target));
  } catch (cause) {
    return error(expected, `cannot measure ${check.check} on '${check.table}': ${withoutValues(firstLine(cause))}`);
  }
  const n = Number(row.n ?? 0);
  const raw = row.v === null || row.v === undefined ? null : Number(row.v);
  if (raw === null) {
    // Only an age can be NULL: an empty table has no newest row, which is as stale as it gets.
    return {
      ...base,
      status: 'fail',
      observed: null,
      expected,
      unit,
      message: `${where(check)}: no rows loaded yet, expected ${expected}`,
    };
  }
  const observed = unit === 'percent' ? (n === 0 ? 0 : round((100 * raw) / n)) : unit === 'seconds' ? round(raw) : raw;
  const ok = satisfies(observed, check.threshold);
  const scope = check.versions ? ` (versions ${check.versions.join(', ')})` : '';
  return {
    ...base,
    status: ok ? 'pass' : 'fail',
    observed,
    expected,
    unit,
    message: `${where(check)}: ${observed} ${unit === 'rows' && observed === 1 ? 'row' : unitLabel(unit)} ${WHAT[check.check]}${scope}, expected ${expected}`,
  };
}

function measuredColumns(check: PlannedCheck): string[] {
  const m = check.measure;
  if (m.kind === 'rows') return [];
  if (m.kind === 'duplicates') return [...m.columns];
  return [m.column];
}

function where(check: PlannedCheck): string {
  return check.column === undefined ? check.table : `${check.table}.${check.column}`;
}

function unitLabel(unit: PlannedCheck['unit']): string {
  return unit === 'percent' ? '%' : unit === 'seconds' ? 's' : 'rows';
}

/** What a check's number counts, after the number and its unit: `2 rows NULL`, `7200 s since the newest load`. */
const WHAT: Readonly<Record<CheckName, string>> = {
  table_exists: 'in the table',
  row_count: 'in the table',
  not_null: 'NULL',
  null_values: 'NULL',
  unique: 'duplicate',
  duplicate_values: 'duplicate',
  valid_values: 'not a valid value',
  pattern: 'not matching the pattern',
  range: 'out of range',
  missing_values: 'missing',
  freshness: 'since the newest load',
  latency: 'since the newest load',
  quality_rule: '',
};

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

async function duckDbSession(file: string): Promise<CheckSession> {
  const reader = await openDuckDbReader(file);
  return {
    target: { dialect: 'duckdb' },
    where: `duckdb file '${file}'`,
    catalog: async () =>
      tablesOf(
        await reader.query(
          `SELECT table_name, column_name FROM duckdb_columns() WHERE database_name = current_database() AND schema_name = 'main' AND NOT internal`,
        ),
      ),
    row: async (sql) => (await reader.query(sql))[0] ?? {},
    close: () => Promise.resolve(reader.close()),
  };
}

async function postgresSession(url: string, schema: string): Promise<CheckSession> {
  quoteIdent(schema, 'schema');
  const client: PgClient = await connectPg(url, 'herald-contract-test');
  const where = `schema '${schema}' at ${redactUrl(url)}`;
  try {
    await client.query('BEGIN READ ONLY');
  } catch (cause) {
    await client.end().catch(() => undefined);
    throw new HeraldError(ErrorCodes.DATABASE_ERROR, `cannot read ${where}: ${(cause as Error).message}`, { cause, retryable: true });
  }
  return {
    target: { dialect: 'postgres', schema },
    where,
    catalog: async () =>
      tablesOf(
        (await client.query(`SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = $1`, [schema]))
          .rows as Record<string, unknown>[],
      ),
    row: async (sql) => {
      // A savepoint per check: an error aborts only its own statement, not the transaction.
      await client.query('SAVEPOINT herald_check');
      try {
        const found = await client.query(sql);
        await client.query('RELEASE SAVEPOINT herald_check');
        return (found.rows[0] as Record<string, unknown> | undefined) ?? {};
      } catch (cause) {
        await client.query('ROLLBACK TO SAVEPOINT herald_check').catch(() => undefined);
        throw cause;
      }
    },
    close: async () => {
      await client.query('ROLLBACK').catch(() => undefined);
      await client.end().catch(() => undefined);
    },
  };
}

function tablesOf(rows: readonly Record<string, unknown>[]): Map<string, Set<string>> {
  const tables = new Map<string, Set<string>>();
  for (const r of rows) {
    const name = String(r.table_name);
    const cols = tables.get(name) ?? new Set<string>();
    cols.add(String(r.column_name));
    tables.set(name, cols);
  }
  return tables;
}
