import { checkAll, formatFinding, type CompatibilityResult } from '../../contracts/compatibility.js';
import { checkAgainstBase, loadContractsAtRef, type BaseCompatibilityResult } from '../../contracts/git-base.js';
import { loadContractDir } from '../../contracts/load.js';
import { loadConfig, required } from '../config.js';
import { printResult, table } from '../output.js';

/** Flags of `herald contract check`. */
export interface ContractCheckFlags {
  /** Folder of contract YAML files (else config `contracts`, else `HERALD_CONTRACTS`). */
  contracts?: string;
  /** A git ref (`origin/main`, `HEAD~1`) whose contracts the working tree's are checked against. */
  base?: string;
  json?: boolean;
  config?: string;
}

/** What `--json` prints. */
export interface ContractCheckReport {
  /** True when no contract version breaks. */
  readonly compatible: boolean;
  /** The `--base` ref, or null when versions were checked only against each other. */
  readonly base: string | null;
  readonly results: readonly (CompatibilityResult | BaseCompatibilityResult)[];
}

/**
 * `herald contract check`: checks every version of every contract against its earlier versions
 * with its compatibility mode (Confluent's meaning); with `--base REF`, checks the working tree's
 * contracts against those at that git ref instead: new versions per their mode, released versions
 * changed since (which must stay FULL compatible), removed versions. Prints a line per version
 * and one per finding (`--json`: a {@link ContractCheckReport}); sets `process.exitCode = 1` when
 * anything breaks. Malformed contracts, an unknown ref or a missing folder throw (`CONFIG_INVALID`,
 * `CONTRACT_INVALID`); nothing is written anywhere.
 */
export async function contractCheckCommand(flags: ContractCheckFlags): Promise<void> {
  const config = await loadConfig({
    ...(flags.config === undefined ? {} : { config: flags.config }),
    ...(flags.contracts === undefined ? {} : { contracts: flags.contracts }),
  });
  const dir = required(config, 'contracts', '--contracts', 'HERALD_CONTRACTS');
  const current = await loadContractDir(dir);
  const base = flags.base;
  const results: (CompatibilityResult | BaseCompatibilityResult)[] =
    base === undefined ? checkAll(current) : checkAgainstBase(current, await loadContractsAtRef(dir, base), { ref: base });
  const report: ContractCheckReport = { compatible: results.every((r) => r.compatible), base: base ?? null, results };
  printResult(flags.json === true, report, () => human(report));
  if (!report.compatible) process.exitCode = 1;
}

function human(report: ContractCheckReport): string {
  const { results, base } = report;
  if (results.length === 0) return 'no contracts found';
  const withChange = base !== null;
  const rows = results.map((r) => [
    r.contract,
    r.version,
    ...(withChange ? [(r as BaseCompatibilityResult).change] : []),
    r.mode,
    r.comparedWith.join(', ') || '-',
    r.compatible ? 'compatible' : `breaks (${r.findings.length})`,
  ]);
  const lines = [table(['contract', 'version', ...(withChange ? ['change'] : []), 'mode', 'compared with', 'result'], rows)];
  const findings = results.flatMap((r) => r.findings.map((f) => formatFinding(r, f)));
  if (findings.length > 0) lines.push('', ...findings);
  const broken = results.filter((r) => !r.compatible);
  const against = base === null ? '' : ` against ${base}`;
  if (broken.length === 0) {
    lines.push('', `${plural(results.length, 'contract version')} checked${against}: all compatible`);
    return lines.join('\n');
  }
  lines.push('', `${broken.length} of ${plural(results.length, 'contract version')} checked${against} break compatibility`);
  const change = (r: CompatibilityResult): string | undefined => (r as Partial<BaseCompatibilityResult>).change;
  if (broken.some((r) => change(r) === 'changed' || change(r) === 'removed')) {
    lines.push('a released version must not change or go: undo the edit and publish the change as a new version');
  }
  if (broken.some((r) => change(r) === undefined || change(r) === 'new')) {
    lines.push('a breaking change needs a new contract id, or compatibility NONE on the new version');
  }
  return lines.join('\n');
}

function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}
