import type { ColumnType, Field } from '../warehouse/columns.js';
import { metaColumns, planTables, type TablePlan } from '../warehouse/table-plan.js';
import type { Contract } from './contract.js';

/** A BigQuery `TableFieldSchema` (the JSON `bq mk --schema` and the API take). */
export interface BigQueryField {
  readonly name: string;
  readonly type: 'STRING' | 'INT64' | 'FLOAT64' | 'NUMERIC' | 'BIGNUMERIC' | 'BOOL' | 'TIMESTAMP' | 'DATE' | 'TIME' | 'JSON' | 'RECORD';
  readonly mode: 'NULLABLE' | 'REQUIRED' | 'REPEATED';
  readonly precision?: string;
  readonly scale?: string;
  readonly fields?: readonly BigQueryField[];
  readonly description?: string;
}

/** One warehouse table and its BigQuery schema. */
export interface BigQueryTable {
  readonly table: string;
  readonly schema: readonly BigQueryField[];
}

/** The loader never hashes here; a stand-in key lets `planTables` plan hashed columns (text either way). */
const PLAN_KEY = Buffer.alloc(32);

/**
 * The BigQuery schema of each warehouse table Herald's loader would create for `contracts`: the
 * same table plan (names, PII treatment, evolution), the metadata columns first (`_event_id`
 * REQUIRED), then the data columns, NULLABLE because a column added by a later contract version is
 * empty in older rows, and `_loaded_at`. Decimals map to NUMERIC within its precision and scale
 * (p ≤ 38, s ≤ 9) and to BIGNUMERIC otherwise; a list of lists, which BigQuery cannot hold, is JSON.
 */
export function bigQuerySchemas(contracts: readonly Contract[]): BigQueryTable[] {
  return planTables(contracts, { piiKey: PLAN_KEY }).map((plan) => ({ table: plan.table, schema: tableSchema(plan) }));
}

function tableSchema(plan: TablePlan): BigQueryField[] {
  const meta: BigQueryField[] = metaColumns.map((name) => ({
    name,
    type: name === '_event_time' ? 'TIMESTAMP' : 'STRING',
    mode: name === '_event_id' ? 'REQUIRED' : 'NULLABLE',
  }));
  return [...meta, ...plan.columns.map((f) => field(f)), { name: '_loaded_at', type: 'TIMESTAMP', mode: 'REQUIRED' }];
}

function field(f: Field, mode: BigQueryField['mode'] = 'NULLABLE'): BigQueryField {
  const t = f.type;
  if (t.kind === 'list') {
    // BigQuery has no nullable arrays and no arrays of arrays.
    return t.item.kind === 'list' ? { name: f.name, type: 'JSON', mode } : field({ ...f, type: t.item }, 'REPEATED');
  }
  return { name: f.name, mode, ...typeOf(t) };
}

function typeOf(t: Exclude<ColumnType, { kind: 'list' }>): Pick<BigQueryField, 'type' | 'precision' | 'scale' | 'fields'> {
  switch (t.kind) {
    case 'decimal':
      return t.precision - t.scale <= 29 && t.scale <= 9
        ? { type: 'NUMERIC', precision: String(t.precision), scale: String(t.scale) }
        : { type: 'BIGNUMERIC', precision: String(t.precision), scale: String(t.scale) };
    case 'struct':
      return { type: 'RECORD', fields: t.fields.map((f) => field(f)) };
    case 'varchar':
    case 'uuid':
      return { type: 'STRING' };
    case 'timestamptz':
      return { type: 'TIMESTAMP' };
    case 'date':
      return { type: 'DATE' };
    case 'time':
      return { type: 'TIME' };
    case 'bigint':
      return { type: 'INT64' };
    case 'double':
      return { type: 'FLOAT64' };
    case 'boolean':
      return { type: 'BOOL' };
    case 'json':
      return { type: 'JSON' };
  }
}
