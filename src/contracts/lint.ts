import { readFile, readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { Document, LineCounter } from 'yaml';
import { HeraldError, ErrorCodes, isHeraldError } from '../errors.js';
import { planTables } from '../warehouse/table-plan.js';
import type { Contract, OdcsProperty } from './contract.js';
import { objectSchema } from './json-schema.js';
import { lineOf, parseContractSource, type ContractSource } from './load.js';
import { contractAjv, groupVersions } from './registry.js';

/** One problem in one contract file. */
export interface LintIssue {
  readonly file: string;
  /** 1-based line of the offending node (the closest one that exists). */
  readonly line: number;
  /** The field, as a path into the YAML document, e.g. `/schema/0/properties/2/examples/0`. */
  readonly path: string;
  readonly message: string;
}

/** What {@link lintContractDir} found. */
export interface LintReport {
  readonly files: number;
  /** The contracts that parsed (with or without other issues). */
  readonly contracts: readonly Contract[];
  /** Every issue, in file order; empty when all is well. */
  readonly issues: readonly LintIssue[];
}

/**
 * Checks every contract file under `dir` and reports all problems, not only the first:
 * the file's own structure (YAML, the ODCS v3.1.0 schema, Herald's rules — see
 * {@link parseContract}); every property example against the property's schema; an id and
 * version declared twice; and what the warehouse loader would refuse (an unknown
 * `piiTreatment`, two properties that become one column). Never throws for a bad file.
 */
export async function lintContractDir(dir: string): Promise<LintReport> {
  let names: string[];
  try {
    names = (await readdir(dir, { recursive: true })).filter((f) => f.endsWith('.yaml') || f.endsWith('.yml')).sort();
  } catch (cause) {
    throw new HeraldError(
      ErrorCodes.CONFIG_INVALID,
      `cannot read contracts directory '${dir}': ${(cause as Error).message}; set --contracts`,
      {
        cause,
      },
    );
  }
  const issues: LintIssue[] = [];
  const contracts: Contract[] = [];
  for (const name of names) {
    const path = join(dir, name);
    const file = relative(process.cwd(), path) || path;
    const text = await readFile(path, 'utf8');
    let parsed: ContractSource;
    try {
      parsed = parseContractSource(text, file);
    } catch (err) {
      if (!isHeraldError(err, ErrorCodes.CONTRACT_INVALID)) throw err;
      const d = err.details as { line?: number; path?: string };
      issues.push({ file, line: d.line ?? 1, path: d.path ?? '/', message: err.message.replace(/^invalid contract [^:]+:\d+: /, '') });
      continue;
    }
    const { contract, doc, lines } = parsed;
    contracts.push(contract);
    issues.push(...exampleIssues(contract, doc, lines));
    try {
      // The key only has to exist: a missing one is a deployment setting, not a contract error.
      planTables([contract], { piiKey: Buffer.alloc(32) });
    } catch (err) {
      if (!isHeraldError(err)) throw err;
      const at = yamlPathOf(contract.properties, String(err.details.property ?? ''));
      issues.push({
        file,
        line: lineOf(doc, lines, at),
        path: '/' + at.join('/'),
        message: err.message.replace(/^invalid contract [^:]+: /, ''),
      });
    }
  }
  try {
    // Only the duplicate check; a registry would also compile every validator.
    groupVersions(contracts);
  } catch (err) {
    if (!isHeraldError(err)) throw err;
    issues.push({ file: contracts.at(-1)?.file ?? dir, line: 1, path: '/version', message: err.message });
  }
  return { files: names.length, contracts, issues };
}

/** Every example of every property (at any depth) that its own property schema refuses. */
function exampleIssues(contract: Contract, doc: Document, lines: LineCounter): LintIssue[] {
  const ajv = contractAjv();
  const issues: LintIssue[] = [];
  const walk = (props: readonly OdcsProperty[], at: (string | number)[], where: string): void => {
    props.forEach((p, i) => {
      const path = [...at, i];
      const name = `${where}${p.name}`;
      if (p.examples !== undefined) {
        const validate = ajv.compile((objectSchema([p]).properties as Record<string, object>)[p.name]!);
        p.examples.forEach((example, j) => {
          if (validate(example)) return;
          const e = validate.errors![0]!;
          issues.push({
            file: contract.file,
            line: lineOf(doc, lines, [...path, 'examples', j]),
            path: '/' + [...path, 'examples', j].join('/'),
            message: `example ${j + 1} of property '${name}' does not match its schema${e.instancePath ? ` at ${e.instancePath}` : ''}: ${e.message ?? e.keyword}`,
          });
        });
      }
      if (p.properties) walk(p.properties, [...path, 'properties'], `${name}.`);
      if (p.items?.properties) walk(p.items.properties, [...path, 'items', 'properties'], `${name}[].`);
    });
  };
  walk(contract.properties, ['schema', 0, 'properties'], '');
  return issues;
}

/** The YAML path of a dotted property path (`recipient.name`, `lines.sku` for array items). */
function yamlPathOf(props: readonly OdcsProperty[], dotted: string): (string | number)[] {
  const path: (string | number)[] = ['schema', 0, 'properties'];
  let level: readonly OdcsProperty[] | undefined = props;
  for (const name of dotted.split('.')) {
    const i: number = level?.findIndex((p) => p.name === name) ?? -1;
    if (i < 0) break;
    const p: OdcsProperty = level![i]!;
    path.push(i);
    if (p.properties) {
      path.push('properties');
      level = p.properties;
    } else if (p.items?.properties) {
      path.push('items', 'properties');
      level = p.items.properties;
    } else level = undefined;
  }
  // Trailing 'properties' / 'items' segments point past the property itself.
  while (typeof path.at(-1) === 'string' && path.length > 3) path.pop();
  return path;
}
