import { contractChangelog } from '../../contracts/changelog.js';
import { loadContractsAtRef } from '../../contracts/git-base.js';
import { loadContractDir } from '../../contracts/load.js';
import { loadConfig, required } from '../config.js';
import { writeIfChanged } from './contract-codegen.js';

/** Flags of `herald contract changelog`. */
export interface ContractChangelogFlags {
  contracts?: string;
  /** A git ref: list only versions new, changed or removed since then. */
  base?: string;
  /** Write the Markdown to this file instead of stdout. */
  out?: string;
  config?: string;
}

/**
 * `herald contract changelog`: prints (or writes to `--out`) the Markdown changelog of the
 * contracts, see `contractChangelog`. Malformed contracts, an unknown ref or a missing folder
 * throw as `herald contract check` does. Resolves the Markdown.
 */
export async function contractChangelogCommand(flags: ContractChangelogFlags): Promise<string> {
  const config = await loadConfig({
    ...(flags.config === undefined ? {} : { config: flags.config }),
    ...(flags.contracts === undefined ? {} : { contracts: flags.contracts }),
  });
  const dir = required(config, 'contracts', '--contracts', 'HERALD_CONTRACTS');
  const current = await loadContractDir(dir);
  const markdown = contractChangelog(
    current,
    flags.base === undefined ? {} : { base: { ref: flags.base, contracts: await loadContractsAtRef(dir, flags.base) } },
  );
  if (flags.out === undefined) process.stdout.write(markdown);
  else await writeIfChanged(flags.out, markdown);
  return markdown;
}
