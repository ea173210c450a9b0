import { quoteIdent } from '../postgres/identifiers.js';
import type { ColumnType } from './columns.js';
import { duckDbType } from './duckdb-types.js';
import { deadLetterTable } from './sink.js';
import { metaColumns, type TablePlan } from './table-plan.js';

/** The SQL dialects Herald's warehouse sinks speak. */
export const WarehouseDialects = ['duckdb', 'postgres'] as const;

/** One of {@link WarehouseDialects}. */
export type WarehouseDialect = (typeof WarehouseDialects)[number];

/**
 * Where a table is created: a DuckDB file has one schema (`main`), so it needs nothing more; in
 * PostgreSQL the tables live in one schema of the sink's choosing.
 */
export type DdlTarget = { readonly dialect: 'duckdb' } | { readonly dialect: 'postgres'; readonly schema: string };

/** A name quoted for SQL: names are validated lowercase identifiers, but may be keywords (`order`). */
const q = (name: string): string => `"${name}"`;

/** PostgreSQL type names exactly as `format_type()` reports them, so they compare as text. */
export function postgresType(t: ColumnType): string {
  switch (t.kind) {
    case 'varchar':
      return 'text';
    case 'timestamptz':
      return 'timestamp with time zone';
    case 'time':
      return 'time without time zone';
    case 'double':
      return 'double precision';
    case 'decimal':
      return `numeric(${t.precision},${t.scale})`;
    case 'struct':
    case 'list':
    case 'json':
      return 'jsonb';
    default:
      return t.kind;
  }
}

/** A data column's type in `dialect`: DuckDB keeps structs and lists typed, PostgreSQL stores them as `jsonb`. */
export function columnTypeSql(t: ColumnType, dialect: WarehouseDialect): string {
  return dialect === 'duckdb' ? duckDbType(t) : postgresType(t);
}

/**
 * The types of the metadata columns (see {@link metaColumns}) in each dialect. The CloudEvents
 * id is any string, so `_event_id` is text; it is the primary key in both.
 */
export const metaColumnTypes: Readonly<Record<WarehouseDialect, Readonly<Record<(typeof metaColumns)[number], string>>>> = {
  duckdb: {
    _event_id: 'VARCHAR',
    _event_type: 'VARCHAR',
    _source: 'VARCHAR',
    _subject: 'VARCHAR',
    _partition_key: 'VARCHAR',
    _event_time: 'TIMESTAMP WITH TIME ZONE',
    _contract_version: 'VARCHAR',
    _topic: 'VARCHAR',
    _position: 'VARCHAR',
    _traceparent: 'VARCHAR',
  },
  postgres: {
    _event_id: 'text',
    _event_type: 'text',
    _source: 'text',
    _subject: 'text',
    _partition_key: 'text',
    _event_time: 'timestamp with time zone',
    _contract_version: 'text',
    _topic: 'text',
    _position: 'text',
    _traceparent: 'text',
  },
};

/** The table's name as the statements of `target` spell it: schema-qualified in PostgreSQL. */
export function qualifiedTable(table: string, target: DdlTarget): string {
  return target.dialect === 'postgres' ? `${quoteIdent(target.schema, 'schema')}.${q(table)}` : q(table);
}

/**
 * The `CREATE TABLE` statement of one planned warehouse table: the metadata columns, the data
 * columns in plan order (all nullable, so a version without a column leaves it NULL), and
 * `_loaded_at`. `_event_id` is the primary key, which is what makes loading idempotent. This is
 * the statement the sinks run for a table that does not exist yet, so exported DDL and the
 * loader's tables cannot drift apart. Throws `CONFIG_INVALID` for a PostgreSQL schema that is not
 * a lowercase identifier.
 */
export function createTableSql(plan: TablePlan, target: DdlTarget): string {
  const meta = metaColumnTypes[target.dialect];
  const data = plan.columns.map((c) => `${q(c.name)} ${columnTypeSql(c.type, target.dialect)}`);
  const table = qualifiedTable(plan.table, target);
  // The two statements differ only in spelling; each is what its sink has always created, so
  // tables made before this function existed look exactly like the ones made after.
  if (target.dialect === 'duckdb') {
    const columns = [...metaColumns.map((m) => `${m} ${meta[m]}${m === '_event_id' ? ' PRIMARY KEY' : ''}`), ...data];
    return `CREATE TABLE ${table} (${columns.join(', ')}, _loaded_at TIMESTAMP WITH TIME ZONE DEFAULT current_timestamp)`;
  }
  const columns = [...metaColumns.map((m) => `${m} ${meta[m]}`), ...data];
  return `CREATE TABLE ${table} (${columns.join(', ')}, _loaded_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (_event_id))`;
}

/**
 * The `CREATE TABLE IF NOT EXISTS` statement of the load dead-letter table ({@link deadLetterTable}),
 * where events that fail to load are kept with their reason (personal values already protected).
 */
export function deadLetterTableSql(target: DdlTarget): string {
  const table = qualifiedTable(deadLetterTable, target);
  return target.dialect === 'duckdb'
    ? `CREATE TABLE IF NOT EXISTS ${table} (id VARCHAR PRIMARY KEY, topic VARCHAR, position VARCHAR, event_type VARCHAR, ` +
        `dataschema VARCHAR, reason VARCHAR NOT NULL, data VARCHAR, failed_at TIMESTAMP WITH TIME ZONE DEFAULT current_timestamp)`
    : `CREATE TABLE IF NOT EXISTS ${table} (id text PRIMARY KEY, topic text, position text, event_type text, ` +
        `dataschema text, reason text NOT NULL, data text, failed_at timestamptz NOT NULL DEFAULT now())`;
}

/**
 * Every statement a fresh warehouse needs before the loader's first batch, in order: the schema
 * (PostgreSQL), the dead-letter table, then one table per plan. The loader runs the same
 * statements itself; this is for a warehouse whose tables are created by a migration tool or
 * reviewed before they exist.
 */
export function warehouseDdl(plans: readonly TablePlan[], target: DdlTarget): string[] {
  return [
    ...(target.dialect === 'postgres' ? [`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(target.schema, 'schema')}`] : []),
    deadLetterTableSql(target),
    ...plans.map((plan) => createTableSql(plan, target)),
  ];
}
