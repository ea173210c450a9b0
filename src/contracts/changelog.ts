import { checkAll, formatFinding, type CompatibilityResult } from './compatibility.js';
import type { Contract, OdcsProperty } from './contract.js';
import { contractList } from './exports.js';
import { checkAgainstBase, type BaseChange, type BaseCompatibilityResult } from './git-base.js';
import { diffSchemas } from './schema-diff.js';

/** Options of {@link contractChangelog}. */
export interface ChangelogOptions {
  /** Contracts at a git ref (`loadContractsAtRef`): the changelog then lists only what changed since. */
  readonly base?: { readonly ref: string; readonly contracts: readonly Contract[] };
}

/**
 * A Markdown changelog of the contracts, newest version first per contract: for each version its
 * status, topic and compatibility verdict under its mode (the findings of `herald contract check`,
 * each naming the version it breaks against), and every schema difference from the version before
 * (properties added or removed, types, bounds, enums), compatible or not. A first version lists
 * its properties. With `base`, only versions new, changed or removed since that ref appear, each
 * marked so, with the verdicts of `checkAgainstBase`. Deterministic for the same contracts.
 */
export function contractChangelog(contracts: readonly Contract[], options: ChangelogOptions = {}): string {
  const current = contractList(contracts);
  const base = options.base;
  const results: (CompatibilityResult | BaseCompatibilityResult)[] =
    base === undefined ? checkAll(current) : checkAgainstBase(current, base.contracts, { ref: base.ref });
  const lines = [`# Contract changelog${base === undefined ? '' : ` since \`${base.ref}\``}`, ''];
  const ids = [...new Set(results.map((r) => r.contract))].sort();
  let listed = 0;
  for (const id of ids) {
    const mine = results.filter((r) => r.contract === id && (base === undefined || (r as BaseCompatibilityResult).change !== 'unchanged'));
    if (mine.length === 0) continue;
    const versions = current.filter((c) => c.id === id);
    lines.push(`## ${id}`, '');
    for (const r of [...mine].reverse()) {
      listed++;
      const change = base === undefined ? undefined : (r as BaseCompatibilityResult).change;
      const contract = versions.find((c) => c.version === r.version);
      const previous = versions[versions.findIndex((c) => c.version === r.version) - 1];
      lines.push(`### ${r.version}${change === undefined ? '' : ` (${CHANGE_LABEL[change]})`}`, '');
      if (contract !== undefined) lines.push(`${contract.status}, topic \`${contract.topic}\`, mode ${r.mode}: ${verdict(r)}`, '');
      else lines.push(`${verdict(r)}`, '');
      for (const f of r.findings) lines.push(`- **breaks**: ${formatFinding(r, f)}`);
      if (contract !== undefined && previous !== undefined) {
        const diffs = diffSchemas(previous.jsonSchema, contract.jsonSchema);
        if (diffs.length === 0) lines.push(`- no schema change from ${previous.version}`);
        // A difference already listed as a finding is not listed twice.
        const broken = new Set(r.findings.map((f) => `${f.path}\u0000${f.message}`));
        for (const d of diffs.filter((x) => !broken.has(`${x.path}\u0000${x.message}`))) {
          lines.push(`- \`${d.path}\`: ${d.message}${d.compatible ? '' : ' (narrows what is accepted)'}`);
        }
      } else if (contract !== undefined) {
        lines.push(`- first version: ${contract.properties.map(describe).join(', ')}`);
      }
      lines.push('');
    }
  }
  if (listed === 0) lines.push(base === undefined ? 'No contracts.' : `No contract version changed since \`${base.ref}\`.`, '');
  return lines.join('\n');
}

const CHANGE_LABEL: Readonly<Record<BaseChange, string>> = {
  new: 'new',
  changed: 'changed after release',
  removed: 'removed',
  unchanged: 'unchanged',
};

function verdict(r: CompatibilityResult): string {
  if (r.comparedWith.length === 0 && r.findings.length === 0) return 'nothing to compare with';
  return r.compatible
    ? `compatible with ${r.comparedWith.join(', ')}`
    : `**incompatible** (${r.findings.length} finding${r.findings.length === 1 ? '' : 's'})`;
}

function describe(p: OdcsProperty): string {
  return `\`${p.name}\` (${p.logicalType ?? 'string'}${p.required === true ? ', required' : ''})`;
}
