import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { generateContractModule, generatedNames } from '../../contracts/codegen.js';
import { ContractRegistry } from '../../contracts/registry.js';
import { loadConfig, required, type HeraldConfig } from '../config.js';
import { printResult } from '../output.js';

/** Flags of `herald contract codegen`; defaults in {@link contractCodegenDefaults}. */
export interface ContractCodegenFlags extends Pick<HeraldConfig, 'contracts'> {
  config?: string;
  /** The TypeScript file to write. */
  out?: string;
  /** The module the generated code imports Herald's types from. */
  importFrom?: string;
  json?: boolean;
}

/** The defaults of {@link ContractCodegenFlags}, in one table. */
export const contractCodegenDefaults = { out: 'src/generated/contracts.ts', importFrom: 'herald' } as const;

/** What {@link contractCodegenCommand} did. */
export interface ContractCodegenResult {
  readonly file: string;
  /** False when the file already had exactly this content and was left alone. */
  readonly changed: boolean;
  /** The generated interface names, one per contract version. */
  readonly types: readonly string[];
}

/**
 * `herald contract codegen`: writes one TypeScript module with a typed interface, constants and
 * append helpers per contract version (see `generateContractModule`) to `--out`. A file whose
 * content would not change is not rewritten, so watchers and incremental builds stay quiet.
 */
export async function contractCodegenCommand(flags: ContractCodegenFlags): Promise<ContractCodegenResult> {
  const config = await loadConfig({ contracts: flags.contracts, ...(flags.config === undefined ? {} : { config: flags.config }) });
  const registry = await ContractRegistry.fromDir(required(config, 'contracts', '--contracts', 'HERALD_CONTRACTS'));
  const file = flags.out ?? contractCodegenDefaults.out;
  const text = generateContractModule(registry, { importFrom: flags.importFrom ?? contractCodegenDefaults.importFrom });
  const changed = await writeIfChanged(file, text);
  const types = registry.list().map((c) => generatedNames(c).type);
  printResult(flags.json === true, { file, changed, types }, () =>
    changed ? `wrote ${file}: ${types.join(', ')}` : `${file} is up to date (${types.length} contract version(s))`,
  );
  return { file, changed, types };
}

/** Writes `text` to `file` (creating its folder) unless the file already holds exactly that. */
export async function writeIfChanged(file: string, text: string): Promise<boolean> {
  const before = await readFile(file, 'utf8').catch(() => undefined);
  if (before === text) return false;
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, text);
  return true;
}
