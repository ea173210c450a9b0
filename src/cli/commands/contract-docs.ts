import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderCatalog, type CatalogHistoryEntry } from '../../contracts/catalog.js';
import { checkAll, formatFinding } from '../../contracts/compatibility.js';
import type { Contract } from '../../contracts/contract.js';
import { ContractRegistry } from '../../contracts/registry.js';
import { loadConfig, required } from '../config.js';
import { printResult } from '../output.js';

/** Where `herald contract docs` writes when `--out` is not given. */
export const defaultDocsOut = 'contract-docs';

/** Flags of `herald contract docs`. */
export interface ContractDocsFlags {
  /** Folder of contract YAML files (env `HERALD_CONTRACTS`, or `contracts` in the config file). */
  contracts?: string;
  /** Output folder; `index.html` is written into it (default {@link defaultDocsOut}). */
  out?: string;
  config?: string;
  json?: boolean;
  /** The page title; default `Herald contract catalog`. */
  title?: string;
  /** Compatibility history per contract id, shown in the catalog; versions without one show "not checked". */
  history?: ReadonlyMap<string, readonly CatalogHistoryEntry[]>;
}

/**
 * `herald contract docs`: renders every contract in the contracts folder as one self-contained
 * HTML page, `<out>/index.html`, and prints its path (with `--json`, `{ file, eventTypes, versions }`).
 * The folder is loaded as the relay loads it, so a malformed contract or a duplicate id and
 * version fails with `CONTRACT_INVALID` and nothing is written. Returns the path written.
 */
export async function contractDocsCommand(flags: ContractDocsFlags): Promise<string> {
  const config = await loadConfig({
    ...(flags.config === undefined ? {} : { config: flags.config }),
    ...(flags.contracts === undefined ? {} : { contracts: flags.contracts }),
  });
  const registry = await ContractRegistry.fromDir(required(config, 'contracts', '--contracts', 'HERALD_CONTRACTS'));
  const contracts = registry.list();
  const html = renderCatalog(contracts, {
    generatedAt: new Date(),
    ...(flags.title === undefined ? {} : { title: flags.title }),
    history: flags.history ?? compatibilityHistory(contracts),
  });
  const out = flags.out ?? defaultDocsOut;
  await mkdir(out, { recursive: true });
  const file = join(out, 'index.html');
  await writeFile(file, html, 'utf8');
  const eventTypes = new Set(contracts.map((c) => c.id)).size;
  printResult(flags.json === true, { file, eventTypes, versions: contracts.length }, () => file);
  return file;
}

/** Every version's compatibility check against its predecessors, per contract id, for the catalog. */
export function compatibilityHistory(contracts: readonly Contract[]): Map<string, CatalogHistoryEntry[]> {
  const history = new Map<string, CatalogHistoryEntry[]>();
  for (const r of checkAll(contracts)) {
    const entries = history.get(r.contract) ?? [];
    entries.push({
      version: r.version,
      mode: r.mode,
      comparedWith: r.comparedWith,
      verdict: r.compatible ? 'compatible' : 'breaks',
      findings: r.findings.map((f) => formatFinding(r, f)),
    });
    history.set(r.contract, entries);
  }
  return history;
}
