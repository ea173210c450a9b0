import type { OdcsProperty, OdcsQualityRule, SlaProperty } from '../contracts/contract.js';
import type { Field } from './columns.js';
import { slaSeconds } from '../contracts/sla.js';
import { NONE_MAY_FAIL, thresholdOf, type Threshold } from './check-threshold.js';
import { loadedAtColumn, type TablePlan } from './table-plan.js';

/** The checks `herald contract test` runs, by the name reports use. */
export const CheckNames = [
  'table_exists',
  'row_count',
  'not_null',
  'unique',
  'valid_values',
  'pattern',
  'range',
  'null_values',
  'missing_values',
  'duplicate_values',
  'freshness',
  'latency',
  'quality_rule',
] as const;

/** One of {@link CheckNames}. */
export type CheckName = (typeof CheckNames)[number];

/**
 * What a check counts in its table. Every measure is one number: rows (`rows`, and the rows at
 * fault in the others) or, for `age`, seconds since the newest `_loaded_at`.
 */
export type Measure =
  | { readonly kind: 'rows' }
  | { readonly kind: 'nulls'; readonly column: string }
  | { readonly kind: 'missing'; readonly column: string; readonly values: readonly unknown[] }
  | { readonly kind: 'duplicates'; readonly columns: readonly string[] }
  | { readonly kind: 'outside'; readonly column: string; readonly values: readonly unknown[] }
  | { readonly kind: 'unmatched'; readonly column: string; readonly pattern: string }
  | { readonly kind: 'outOfRange'; readonly column: string; readonly bounds: Bounds }
  | { readonly kind: 'age'; readonly column: string };

/** ODCS `logicalTypeOptions` bounds: numbers, or ISO 8601 text for dates and timestamps. */
export interface Bounds {
  readonly minimum?: number | string;
  readonly maximum?: number | string;
  readonly exclusiveMinimum?: number | string;
  readonly exclusiveMaximum?: number | string;
}

/** One check of one table, derived from its contract; dialect-neutral (see `check-sql.ts` for the SQL). */
export interface PlannedCheck {
  readonly contract: string;
  readonly table: string;
  readonly check: CheckName;
  /** The column (or `a, b` for a multi-column rule); absent for table-level checks. */
  readonly column?: string;
  readonly measure: Measure;
  /** The threshold, or why the rule cannot be run (the check then reports `error`). */
  readonly threshold: Threshold | { readonly invalid: string };
  /** `rows`, `percent` (of the rows in scope) or `seconds` (age). */
  readonly unit: 'rows' | 'percent' | 'seconds';
  /**
   * The contract versions whose rows the check reads (`_contract_version`), when not every
   * version of the table declares the rule: a column a later version made required is NULL in
   * the rows of earlier versions, which is not a fault.
   */
  readonly versions?: readonly string[];
}

/**
 * The checks of one planned table, from its contract versions:
 *
 * - the table exists (when it does not, nothing else can run);
 * - `_event_id` is unique, always: it is Herald's deduplication guarantee;
 * - per top-level property of each version: `not_null` when `required`, `unique` when `unique`,
 *   `range` from `logicalTypeOptions` minimum/maximum (exclusive too), `pattern` from its
 *   `pattern` (a string property's values must match, as JSON Schema reads it), and the property's ODCS
 *   library rules — `nullValues`, `missingValues`, `invalidValues` (`validValues` or `pattern`),
 *   `duplicateValues` — each with its own operator and unit. A check declared by only some
 *   versions reads only their rows; a property whose personal data is dropped has no column and
 *   no checks, and hashed or masked values are checked only for presence (and hashed ones for
 *   uniqueness, which hashing keeps);
 * - from the newest version: the schema's `rowCount` and multi-column `duplicateValues` rules,
 *   and the `freshness` / `latency` SLA as the age of the newest `_loaded_at`, the same reading
 *   `herald contract export --format dbt` gives its source freshness.
 *
 * Rules Herald cannot run (other metrics, `sql` and `custom` types, text operators, unknown SLA
 * units) become checks whose threshold says why; `text` rules are documentation and skipped.
 */
export function planChecks(plan: TablePlan): PlannedCheck[] {
  const latest = plan.versions[plan.versions.length - 1]!;
  const base = { contract: plan.contractId, table: plan.table };
  const checks: PlannedCheck[] = [
    { ...base, check: 'table_exists', measure: { kind: 'rows' }, threshold: NONE_MAY_FAIL, unit: 'rows' },
    {
      ...base,
      check: 'unique',
      column: '_event_id',
      measure: { kind: 'duplicates', columns: ['_event_id'] },
      threshold: NONE_MAY_FAIL,
      unit: 'rows',
    },
  ];
  // Column checks, merged across versions by what they measure and expect.
  const byKey = new Map<string, { check: PlannedCheck; versions: string[] }>();
  for (const version of plan.versions) {
    const fields = [...(plan.ownFields.get(version)?.values() ?? [])];
    for (const p of version.properties) {
      const field = fields.find((f) => f.property === p.name);
      if (field === undefined) continue;
      for (const check of propertyChecks(base, p, field)) {
        const key = JSON.stringify([check.check, check.column, check.measure, check.threshold, check.unit]);
        const seen = byKey.get(key);
        if (seen) seen.versions.push(version.version);
        else byKey.set(key, { check, versions: [version.version] });
      }
    }
  }
  for (const { check, versions } of byKey.values()) {
    checks.push(versions.length === plan.versions.length ? check : { ...check, versions });
  }
  checks.push(...tableRules(base, latest.quality, plan), ...slaChecks(base, latest.slaProperties));
  return checks;
}

type Base = Pick<PlannedCheck, 'contract' | 'table'>;

function propertyChecks(base: Base, p: OdcsProperty, field: Field): PlannedCheck[] {
  const column = field.name;
  const at = { ...base, column };
  const out: PlannedCheck[] = [];
  if (p.required === true)
    out.push({ ...at, check: 'not_null', measure: { kind: 'nulls', column }, threshold: NONE_MAY_FAIL, unit: 'rows' });
  // A masked value keeps only a few characters, so two different values can look alike.
  if (p.unique === true && field.pii !== 'mask')
    out.push({ ...at, check: 'unique', measure: { kind: 'duplicates', columns: [column] }, threshold: NONE_MAY_FAIL, unit: 'rows' });
  // Hashed and masked values say nothing about the raw value's range, pattern or membership.
  if (field.pii !== undefined) return out;
  const bounds = boundsOf(p);
  if (bounds !== undefined)
    out.push({ ...at, check: 'range', measure: { kind: 'outOfRange', column, bounds }, threshold: NONE_MAY_FAIL, unit: 'rows' });
  const pattern = p.logicalTypeOptions?.pattern;
  // The regex is run by the warehouse (DuckDB's RE2, PostgreSQL's POSIX ARE), which reads the
  // common subset like JSON Schema does; a construct it lacks makes the check an error, not a pass.
  if (typeof pattern === 'string' && (p.logicalType ?? 'string') === 'string')
    out.push({ ...at, check: 'pattern', measure: { kind: 'unmatched', column, pattern }, threshold: NONE_MAY_FAIL, unit: 'rows' });
  for (const rule of p.quality ?? []) {
    const check = libraryCheck(at, rule, column);
    if (check !== undefined) out.push(check);
  }
  return out;
}

function boundsOf(p: OdcsProperty): Bounds | undefined {
  const opts = p.logicalTypeOptions ?? {};
  const bounds: Record<string, number | string> = {};
  for (const key of ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum'] as const) {
    const v = opts[key];
    if ((typeof v === 'number' && Number.isFinite(v)) || typeof v === 'string') bounds[key] = v;
  }
  return Object.keys(bounds).length === 0 ? undefined : bounds;
}

/** A property's library rule as a check; undefined for documentation-only rules. */
function libraryCheck(at: Base & { column: string }, rule: OdcsQualityRule, column: string): PlannedCheck | undefined {
  if (rule.type === 'text') return undefined;
  const metric = rule.metric ?? rule.rule;
  const threshold = thresholdOf(rule);
  const unit = rule.unit === 'percent' ? 'percent' : 'rows';
  const args = rule.arguments ?? {};
  switch (metric) {
    case 'nullValues':
      return { ...at, check: 'null_values', measure: { kind: 'nulls', column }, threshold, unit };
    case 'missingValues': {
      const values = Array.isArray(args.missingValues) ? (args.missingValues as unknown[]) : [null];
      return { ...at, check: 'missing_values', measure: { kind: 'missing', column, values }, threshold, unit };
    }
    case 'invalidValues':
      if (Array.isArray(args.validValues))
        return {
          ...at,
          check: 'valid_values',
          measure: { kind: 'outside', column, values: args.validValues as unknown[] },
          threshold,
          unit,
        };
      if (typeof args.pattern === 'string')
        return { ...at, check: 'pattern', measure: { kind: 'unmatched', column, pattern: args.pattern }, threshold, unit };
      return {
        ...at,
        check: 'valid_values',
        measure: { kind: 'outside', column, values: [] },
        threshold: { invalid: 'invalidValues needs arguments.validValues or arguments.pattern' },
        unit,
      };
    case 'duplicateValues':
      return { ...at, check: 'duplicate_values', measure: { kind: 'duplicates', columns: [column] }, threshold, unit };
    default:
      return unsupported(at, rule);
  }
}

function tableRules(base: Base, rules: readonly OdcsQualityRule[], plan: TablePlan): PlannedCheck[] {
  const out: PlannedCheck[] = [];
  for (const rule of rules) {
    if (rule.type === 'text') continue;
    const metric = rule.metric ?? rule.rule;
    const threshold = thresholdOf(rule);
    if (metric === 'rowCount') {
      out.push({ ...base, check: 'row_count', measure: { kind: 'rows' }, threshold, unit: 'rows' });
    } else if (metric === 'duplicateValues' && Array.isArray(rule.arguments?.properties)) {
      const names = (rule.arguments.properties as unknown[]).map(String);
      const columns = names.map((n) => plan.columns.find((c) => c.property === n)?.name);
      const unknown = names.filter((_, i) => columns[i] === undefined);
      out.push({
        ...base,
        check: 'duplicate_values',
        column: names.join(', '),
        measure: { kind: 'duplicates', columns: columns.filter((c): c is string => c !== undefined) },
        threshold: unknown.length > 0 ? { invalid: `duplicateValues names properties without a column: ${unknown.join(', ')}` } : threshold,
        unit: rule.unit === 'percent' ? 'percent' : 'rows',
      });
    } else {
      const check = unsupported(base, rule);
      if (check !== undefined) out.push(check);
    }
  }
  return out;
}

function unsupported(at: Base & { column?: string }, rule: OdcsQualityRule): PlannedCheck | undefined {
  const what = rule.type === 'sql' || rule.type === 'custom' ? `${rule.type} rules` : `metric '${String(rule.metric ?? rule.rule)}' here`;
  // The check is kept, not skipped: a rule that silently never runs looks like a rule that passes.
  return {
    ...at,
    check: 'quality_rule',
    measure: { kind: 'rows' },
    threshold: { invalid: `herald contract test does not run ${what}${rule.name ? ` ('${rule.name}')` : ''}` },
    unit: 'rows',
  };
}

function slaChecks(base: Base, sla: readonly SlaProperty[]): PlannedCheck[] {
  const out: PlannedCheck[] = [];
  for (const s of sla) {
    const name = s.property.toLowerCase();
    // `latency` is read as dbt reads it (`herald contract export --format dbt`): the age of the newest load.
    if (name !== 'freshness' && name !== 'latency') continue;
    const seconds = slaSeconds(s);
    const threshold: PlannedCheck['threshold'] = typeof seconds === 'number' ? { op: 'mustBeLessOrEqualTo', value: seconds } : seconds;
    out.push({
      ...base,
      check: name,
      column: loadedAtColumn,
      measure: { kind: 'age', column: loadedAtColumn },
      threshold,
      unit: 'seconds',
    });
  }
  return out;
}
