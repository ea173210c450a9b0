import { writeFile } from 'node:fs/promises';
import { loadContractDir } from '../../contracts/load.js';
import { runContractTests, type CheckResult } from '../../warehouse/contract-test.js';
import { loadConfig, required } from '../config.js';
import { contractTestJunit } from '../junit.js';
import { duration, printResult, table } from '../output.js';

/** Flags of `herald contract test`. */
export interface ContractTestFlags {
  /** `duckdb:<file>` or `postgres://…?schema=` (else config `warehouse`, else `HERALD_WAREHOUSE`). */
  warehouse?: string;
  /** Folder of contract YAML files (else config `contracts`, else `HERALD_CONTRACTS`). */
  contracts?: string;
  /** Print the results as a JSON array of {@link CheckResult}. */
  json?: boolean;
  /** Also write a JUnit XML report to this file. */
  junit?: string;
  config?: string;
}

/**
 * `herald contract test`: runs every contract's checks against its warehouse table (see
 * `runContractTests`) and prints one line per check (`--json`: the array of results); with
 * `--junit FILE`, also writes a JUnit XML report. Sets `process.exitCode = 1` when any check
 * fails or errors, including a table that was never loaded. Writes nothing to the warehouse.
 * Throws `CONFIG_INVALID` for a missing option, a bad warehouse URL (named, without password) or
 * a DuckDB file that does not exist, and `CONTRACT_INVALID` for a malformed contract.
 */
export async function contractTestCommand(flags: ContractTestFlags): Promise<CheckResult[]> {
  const config = await loadConfig({
    ...(flags.config === undefined ? {} : { config: flags.config }),
    ...(flags.contracts === undefined ? {} : { contracts: flags.contracts }),
    ...(flags.warehouse === undefined ? {} : { warehouse: flags.warehouse }),
  });
  const dir = required(config, 'contracts', '--contracts', 'HERALD_CONTRACTS');
  const warehouse = required(config, 'warehouse', '--warehouse', 'HERALD_WAREHOUSE');
  const contracts = await loadContractDir(dir);
  const results = await runContractTests({ warehouse, contracts });
  if (flags.junit !== undefined) await writeFile(flags.junit, contractTestJunit(results));
  printResult(flags.json === true, results, () => human(results));
  if (results.some((r) => r.status !== 'pass')) process.exitCode = 1;
  return results;
}

function human(results: readonly CheckResult[]): string {
  if (results.length === 0) return 'no contracts found';
  const rows = results.map((r) => [r.contract, r.table, r.check, r.column ?? '-', r.status.toUpperCase(), observed(r), expected(r)]);
  const lines = [table(['contract', 'table', 'check', 'column', 'status', 'observed', 'expected'], rows)];
  const bad = results.filter((r) => r.status !== 'pass');
  if (bad.length > 0) lines.push('', ...bad.map((r) => `${r.status === 'fail' ? 'FAIL' : 'ERROR'} ${r.contract}: ${r.message}`));
  const failed = results.filter((r) => r.status === 'fail').length;
  const errors = bad.length - failed;
  lines.push(
    '',
    `${results.length} check${results.length === 1 ? '' : 's'}: ${results.length - bad.length} passed, ${failed} failed, ${errors} errors`,
  );
  return lines.join('\n');
}

function observed(r: CheckResult): string {
  if (r.observed === null) return '-';
  if (r.unit === 'seconds') return duration(r.observed);
  return r.unit === 'percent' ? `${r.observed}%` : String(r.observed);
}

/** An age limit the way the observed age is shown (`<= 1h 0m`); other expectations as they are. */
function expected(r: CheckResult): string {
  const limit = /^<= (\d+(?:\.\d+)?) s$/.exec(r.expected);
  return r.unit === 'seconds' && limit ? `<= ${duration(Number(limit[1]))}` : r.expected;
}
