import { lintContractDir } from '../../contracts/lint.js';
import { loadConfig, required } from '../config.js';
import { printResult } from '../output.js';

/** Flags of `herald contract lint`. */
export interface ContractLintFlags {
  contracts?: string;
  config?: string;
  json?: boolean;
}

/**
 * `herald contract lint`: checks every contract file and prints each problem as
 * `file:line: message` (the form editors and CI annotate); exit code 1 when there is any.
 */
export async function contractLintCommand(flags: ContractLintFlags): Promise<void> {
  const config = await loadConfig(flags);
  const report = await lintContractDir(required(config, 'contracts', '--contracts', 'HERALD_CONTRACTS'));
  printResult(flags.json === true, { files: report.files, contracts: report.contracts.length, issues: report.issues }, () =>
    [
      ...report.issues.map((i) => `${i.file}:${i.line}: ${i.message}`),
      `${report.files} file(s), ${report.contracts.length} contract(s), ${report.issues.length} problem(s)`,
    ].join('\n'),
  );
  if (report.issues.length > 0) process.exitCode = 1;
}
