import { HeraldError, ErrorCodes } from '../errors.js';
import { quoteIdent } from '../postgres/identifiers.js';
import type { Bounds, Measure, PlannedCheck } from './contract-checks.js';
import { qualifiedTable, type DdlTarget } from './ddl.js';

/**
 * The one query that measures a check: a single row with `v`, the measured number (rows at fault,
 * all rows, or seconds since the newest load; NULL when an empty table has no age), and `n`, the
 * rows the check read (for percentages). Identifiers are quoted (they are validated lowercase
 * names); literals from the contract (valid values, patterns, bounds) are quoted as SQL strings or
 * checked to be finite numbers, so no contract text reaches the statement unescaped. Throws
 * `CONTRACT_INVALID` for a bound that is neither a number nor text.
 */
export function checkSql(check: PlannedCheck, target: DdlTarget): string {
  const table = qualifiedTable(check.table, target);
  const scope = check.versions === undefined ? undefined : `${col('_contract_version')} IN (${check.versions.map(literal).join(', ')})`;
  const where = scope === undefined ? '' : ` WHERE ${scope}`;
  const m = check.measure;
  if (m.kind === 'duplicates') {
    // Rows beyond the first of each value: NULLs are not values (SQL's UNIQUE agrees).
    const cols = m.columns.map(col);
    const present = [...cols.map((c) => `${c} IS NOT NULL`), ...(scope === undefined ? [] : [scope])].join(' AND ');
    return (
      `SELECT (SELECT count(*) FROM ${table}${where}) AS n, ` +
      `(SELECT coalesce(sum(c - 1), 0) FROM (SELECT count(*) AS c FROM ${table} WHERE ${present} GROUP BY ${cols.join(', ')} HAVING count(*) > 1) d) AS v`
    );
  }
  if (m.kind === 'age') return `SELECT count(*) AS n, ${ageSql(col(m.column), target)} AS v FROM ${table}${where}`;
  const fault = faultSql(m, target);
  return fault === undefined
    ? `SELECT count(*) AS n, count(*) AS v FROM ${table}${where}`
    : `SELECT count(*) AS n, count(*) FILTER (WHERE ${fault}) AS v FROM ${table}${where}`;
}

/** The condition a faulty row meets, or undefined when the measure counts every row. */
function faultSql(m: Exclude<Measure, { kind: 'duplicates' | 'age' }>, target: DdlTarget): string | undefined {
  switch (m.kind) {
    case 'rows':
      return undefined;
    case 'nulls':
      return `${col(m.column)} IS NULL`;
    case 'missing': {
      const listed = m.values.filter((v) => v !== null && v !== undefined);
      const isNull = listed.length < m.values.length ? [`${col(m.column)} IS NULL`] : [];
      const inList = listed.length > 0 ? [`${text(col(m.column), target)} IN (${listed.map(valueLiteral).join(', ')})`] : [];
      return [...isNull, ...inList].join(' OR ') || 'false';
    }
    case 'outside':
      return m.values.length === 0
        ? 'false'
        : `${col(m.column)} IS NOT NULL AND ${text(col(m.column), target)} NOT IN (${m.values.map(valueLiteral).join(', ')})`;
    case 'unmatched': {
      const value = text(col(m.column), target);
      const matches = target.dialect === 'duckdb' ? `regexp_matches(${value}, ${literal(m.pattern)})` : `${value} ~ ${literal(m.pattern)}`;
      return `${col(m.column)} IS NOT NULL AND NOT ${matches}`;
    }
    case 'outOfRange':
      return rangeFault(col(m.column), m.bounds);
  }
}

function rangeFault(c: string, b: Bounds): string {
  const parts: string[] = [];
  if (b.minimum !== undefined) parts.push(`${c} < ${boundLiteral(b.minimum)}`);
  if (b.exclusiveMinimum !== undefined) parts.push(`${c} <= ${boundLiteral(b.exclusiveMinimum)}`);
  if (b.maximum !== undefined) parts.push(`${c} > ${boundLiteral(b.maximum)}`);
  if (b.exclusiveMaximum !== undefined) parts.push(`${c} >= ${boundLiteral(b.exclusiveMaximum)}`);
  return `(${parts.join(' OR ')})`;
}

/** Seconds between the warehouse's clock and the newest value of a timestamp column. */
function ageSql(c: string, target: DdlTarget): string {
  // Both clocks are the warehouse's, so a skewed client clock cannot make a table look fresh.
  return target.dialect === 'duckdb'
    ? `epoch(current_timestamp) - epoch(max(${c}))`
    : `extract(epoch FROM (current_timestamp - max(${c})))::float8`;
}

const col = (name: string): string => quoteIdent(name, 'column');

/** A value compared as text: enums of any type are written as JSON scalars in the contract. */
function text(expr: string, target: DdlTarget): string {
  return `CAST(${expr} AS ${target.dialect === 'duckdb' ? 'VARCHAR' : 'text'})`;
}

/** A SQL string literal: quotes doubled; both dialects read backslashes literally in '…'. */
function literal(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** A listed value as the text its column shows: strings as they are, numbers and booleans in JSON spelling. */
function valueLiteral(value: unknown): string {
  return literal(typeof value === 'string' ? value : JSON.stringify(value));
}

function boundLiteral(value: number | string): string {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'string') return literal(value);
  throw new HeraldError(ErrorCodes.CONTRACT_INVALID, `a range bound must be a number or ISO 8601 text, got ${JSON.stringify(value)}`);
}
