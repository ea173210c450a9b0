/**
 * Compatibility of contract versions, with Confluent Schema Registry's meaning for JSON Schema:
 * each contract version is compared with the earlier ones its mode names, through the schema
 * differ in `schema-diff.ts`. BACKWARD: data written with the old schema is read with the new
 * one; FORWARD swaps them; FULL is both; `_TRANSITIVE` compares with every earlier version.
 */
import type { CompatibilityMode, Contract } from './contract.js';
import { compareVersions, groupVersions } from './registry.js';
import { diffWithInverse, type DifferenceKind } from './schema-diff.js';

/** Which side's readers break: BACKWARD, new readers on old data; FORWARD, old readers on new data. */
export type Direction = 'BACKWARD' | 'FORWARD';

/**
 * Findings about a released contract version rather than about its schema (see
 * `checkAgainstBase`): removed, or its partition key, topic or event type changed.
 */
export const ReleaseFindingKinds = ['VERSION_REMOVED', 'PARTITION_KEY_CHANGED', 'TOPIC_CHANGED', 'EVENT_TYPE_CHANGED'] as const;

/** A {@link DifferenceKind}, or one of {@link ReleaseFindingKinds}. */
export type FindingKind = DifferenceKind | (typeof ReleaseFindingKinds)[number];

/** One reason a contract version is not compatible. */
export interface CompatibilityFinding {
  /** The version it was compared with. */
  readonly against: string;
  /** The git ref that version was read at, when it was not the working tree (`checkAgainstBase`). */
  readonly base?: string;
  /** Which readers break; `BOTH` for findings about a release rather than a schema. */
  readonly direction: Direction | 'BOTH';
  readonly kind: FindingKind;
  /** Data path, as in {@link SchemaDifference.path}. */
  readonly path: string;
  /** Schema path, as in {@link SchemaDifference.schemaPath} (empty for release findings). */
  readonly schemaPath: string;
  /** The change from the earlier version to this one, lowercase, naming the property; no data values. */
  readonly message: string;
}

/** The verdict on one contract version. */
export interface CompatibilityResult {
  /** Contract id. */
  readonly contract: string;
  readonly version: string;
  /** The mode it was checked under: the newer contract's own. */
  readonly mode: CompatibilityMode;
  /** True when there are no findings. */
  readonly compatible: boolean;
  /** The versions it was compared with, oldest first (none for a first version or mode NONE). */
  readonly comparedWith: readonly string[];
  readonly findings: readonly CompatibilityFinding[];
}

/**
 * Checks `next` against the earlier versions of its contract, with its own compatibility mode and
 * Confluent's meaning: BACKWARD — the new schema reads data written with the previous one;
 * FORWARD — the previous schema reads data written with the new one; FULL — both. Those compare
 * with the immediately preceding version only; the `_TRANSITIVE` modes with every earlier one;
 * NONE with none. `earlier` may hold any contracts: only those with `next`'s id and a lower
 * version count, in semantic-version order. Every finding names the version it was compared
 * with and the direction that breaks. Pure; never throws.
 */
export function checkCompatibility(next: Contract, earlier: readonly Contract[]): CompatibilityResult {
  const mode = next.compatibility;
  const previous = earlier
    .filter((c) => c.id === next.id && compareVersions(c.version, next.version) < 0)
    .sort((a, b) => compareVersions(a.version, b.version));
  const against = mode === 'NONE' ? [] : mode.endsWith('_TRANSITIVE') ? previous : previous.slice(-1);
  const directions: Direction[] = mode.startsWith('BACKWARD')
    ? ['BACKWARD']
    : mode.startsWith('FORWARD')
      ? ['FORWARD']
      : mode === 'NONE'
        ? []
        : ['BACKWARD', 'FORWARD'];
  const findings: CompatibilityFinding[] = [];
  for (const old of against) {
    for (const direction of directions) findings.push(...schemaFindings(old, next, direction));
  }
  return result(next, against, findings);
}

function schemaFindings(old: Contract, next: Contract, direction: Direction, base?: string): CompatibilityFinding[] {
  // BACKWARD: data was written with the old schema and is read with the new one. FORWARD swaps them.
  const diffs =
    direction === 'BACKWARD' ? diffWithInverse(old.jsonSchema, next.jsonSchema) : diffWithInverse(next.jsonSchema, old.jsonSchema);
  return diffs
    .filter((d) => !d.compatible)
    .map((d) => ({
      against: old.version,
      ...(base === undefined ? {} : { base }),
      direction,
      kind: d.kind,
      path: d.path,
      schemaPath: d.schemaPath,
      // FORWARD diffs are computed from the new schema to the old one; the inverse wording
      // describes the change the way it was made, from the old version to the new.
      message: direction === 'BACKWARD' ? d.message : d.inverse,
    }));
}

function result(c: Contract, against: readonly Contract[], findings: CompatibilityFinding[]): CompatibilityResult {
  return {
    contract: c.id,
    version: c.version,
    mode: c.compatibility,
    compatible: findings.length === 0,
    comparedWith: against.map((a) => a.version),
    findings,
  };
}

/**
 * Checks every version of every contract against its predecessors, per {@link checkCompatibility}.
 * Results are sorted by id, then version; a first version is compatible with nothing to compare.
 * Throws `CONTRACT_INVALID` when two contracts share an id and a version.
 */
export function checkAll(contracts: readonly Contract[]): CompatibilityResult[] {
  const byId = groupVersions(contracts);
  return [...byId.keys()].sort().flatMap((id) => {
    const versions = byId.get(id)!;
    return versions.map((c, i) => checkCompatibility(c, versions.slice(0, i)));
  });
}

/**
 * One line a person can act on:
 * `version 2.0.0 of 'orders.order-placed' breaks BACKWARD against 1.0.0: /total: type narrowed from number to integer`.
 */
export function formatFinding(r: Pick<CompatibilityResult, 'contract' | 'version'>, f: CompatibilityFinding): string {
  const subject = `version ${r.version} of '${r.contract}'`;
  if (f.kind === 'VERSION_REMOVED') return `${subject} was removed since ${f.base ?? 'the base'}: ${f.message}`;
  if (f.direction === 'BOTH') return `${subject} was changed after release: ${f.message}`;
  if (f.base !== undefined && f.against === r.version) {
    return `${subject} was changed after release and breaks ${f.direction} against its released form at ${f.base}: ${f.path}: ${f.message}`;
  }
  const at = f.base === undefined ? '' : ` at ${f.base}`;
  return `${subject} breaks ${f.direction} against ${f.against}${at}: ${f.path}: ${f.message}`;
}

/**
 * The findings of `next` against `old` in the given directions, whatever their versions and modes
 * (`checkAgainstBase` uses it to hold a released version to its released form). `base`, when
 * given, is stamped on every finding as the git ref `old` was read at. Pure.
 */
export function compareContracts(old: Contract, next: Contract, directions: readonly Direction[], base?: string): CompatibilityFinding[] {
  return directions.flatMap((d) => schemaFindings(old, next, d, base));
}
