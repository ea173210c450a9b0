import type { Contract } from '../contracts/contract.js';
import { HeraldError, ErrorCodes } from '../errors.js';
import { quoteIdent } from '../postgres/identifiers.js';
import { connectPg, redactUrl } from '../postgres/connect.js';
import { queryDuckDb } from '../warehouse/duckdb-instance.js';
import { deadLetterTable } from '../warehouse/sink.js';
import { planTables } from '../warehouse/table-plan.js';
import { parseWarehouseUrl } from '../warehouse/warehouse-url.js';
import type { ObservedEvent } from './reconcile.js';

/** Options of {@link readWarehouseEvents}. */
export interface WarehouseReadOptions {
  /** `duckdb:<file>` or `postgres://user@host/db?schema=name` (`schema` defaults to `public`). */
  readonly warehouse: string;
  /**
   * The contracts whose tables to read (via {@link planTables}); their rows are labelled with the
   * contract id. Without them, every table with an `_event_id` column is read, labelled by
   * `_event_type`.
   */
  readonly contracts?: readonly Contract[];
}

/** What {@link readWarehouseEvents} read. */
export interface WarehouseRead {
  /** One entry per row and per dead letter (`deadLettered: true`). */
  readonly events: ObservedEvent[];
  /** The tables read, sorted. */
  readonly tables: readonly string[];
  readonly rows: number;
  readonly deadLetters: number;
}

/** A table and the contract id its rows belong to, when known. */
interface Source {
  readonly table: string;
  readonly contract: string | undefined;
}

/**
 * Reads which events a warehouse holds: `_event_id`, `_event_type` and `_event_time` of every
 * contract table, plus the load dead-letter table ({@link deadLetterTable}), whose events count as
 * dead-lettered rather than loaded. Only those columns are read, never the data columns.
 *
 * - A row's `position` is its table name, so an id found in two tables (two contract versions in
 *   `versionedTable`s, say) shows as duplicated with both tables named.
 * - A dead letter has no event time; its `failed_at` stands in for it (used only to place a dead
 *   letter whose id was not expected). Its contract comes from its Herald `dataschema`.
 * - A contract table that does not exist yet is skipped (its events are then missing), as is a
 *   missing dead-letter table.
 * - DuckDB is opened read-only (or through this process's writer, see `queryDuckDb`); PostgreSQL
 *   is read in a `READ ONLY` transaction. Rejects with `CONFIG_INVALID` for an unknown URL form or
 *   schema name, and `DATABASE_ERROR` when the warehouse cannot be read.
 */
export async function readWarehouseEvents(options: WarehouseReadOptions): Promise<WarehouseRead> {
  const url = options.warehouse;
  const planned = options.contracts ? contractTables(options.contracts) : undefined;
  const at = parseWarehouseUrl(url);
  if (at.dialect === 'duckdb') return readDuckDb(at.file, planned);
  const schema = at.schema ?? 'public';
  quoteIdent(schema, 'schema');
  return readPostgres(at.url, schema, planned);
}

/** The table of each contract; table names from {@link planTables} are validated identifiers. */
function contractTables(contracts: readonly Contract[]): Source[] {
  // planTables needs a key only to plan hashed columns, which are never read here.
  return planTables(contracts, { piiKey: Buffer.alloc(32) }).map((p) => ({ table: p.table, contract: p.contractId }));
}

async function readDuckDb(file: string, planned: Source[] | undefined): Promise<WarehouseRead> {
  const columns = await queryDuckDb(
    file,
    `SELECT table_name, column_name FROM duckdb_columns() WHERE database_name = current_database() AND schema_name = 'main' ` +
      `AND NOT internal AND column_name IN ('_event_id', 'id')`,
  );
  const withIds = new Set(columns.filter((r) => r.column_name === '_event_id').map((r) => String(r.table_name)));
  const sources = pick(planned, withIds);
  const events: ObservedEvent[] = [];
  let rows = 0;
  for (const s of sources) {
    const found = await queryDuckDb(file, tableSql(quoteName(s.table)));
    rows += found.length;
    for (const r of found) events.push(fromRow(r, s));
  }
  let deadLetters = 0;
  if (columns.some((r) => r.table_name === deadLetterTable && r.column_name === 'id')) {
    const found = await queryDuckDb(file, deadLetterSql(quoteName(deadLetterTable)));
    deadLetters = found.length;
    for (const r of found) events.push(fromDeadLetter(r));
  }
  return { events, tables: sources.map((s) => s.table), rows, deadLetters };
}

async function readPostgres(url: string, schema: string, planned: Source[] | undefined): Promise<WarehouseRead> {
  const client = await connectPg(url, 'herald-reconcile');
  try {
    await client.query('BEGIN READ ONLY');
    const columns = await client.query<{ table_name: string; column_name: string }>(
      `SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = $1 AND column_name IN ('_event_id', 'id')`,
      [schema],
    );
    const withIds = new Set(columns.rows.filter((r) => r.column_name === '_event_id').map((r) => r.table_name));
    const sources = pick(planned, withIds);
    const s = quoteIdent(schema, 'schema');
    const events: ObservedEvent[] = [];
    let rows = 0;
    for (const source of sources) {
      const found = await client.query(tableSql(`${s}.${quoteName(source.table)}`));
      rows += found.rows.length;
      for (const r of found.rows as Record<string, unknown>[]) events.push(fromRow(r, source));
    }
    let deadLetters = 0;
    if (columns.rows.some((r) => r.table_name === deadLetterTable && r.column_name === 'id')) {
      const found = await client.query(deadLetterSql(`${s}.${quoteName(deadLetterTable)}`));
      deadLetters = found.rows.length;
      for (const r of found.rows as Record<string, unknown>[]) events.push(fromDeadLetter(r));
    }
    return { events, tables: sources.map((x) => x.table), rows, deadLetters };
  } catch (cause) {
    if (cause instanceof HeraldError) throw cause;
    throw new HeraldError(
      ErrorCodes.DATABASE_ERROR,
      `cannot read the warehouse tables of schema '${schema}' at ${redactUrl(url)}: ${(cause as Error).message}`,
      { cause, retryable: true, details: { sqlstate: (cause as { code?: string }).code } },
    );
  } finally {
    await client.query('ROLLBACK').catch(() => undefined);
    await client.end().catch(() => undefined);
  }
}

/** The planned tables that exist, or every table with an `_event_id` column; sorted by name. */
function pick(planned: Source[] | undefined, withIds: ReadonlySet<string>): Source[] {
  const list = planned
    ? planned.filter((s) => withIds.has(s.table))
    : [...withIds].filter((t) => t !== deadLetterTable).map((table) => ({ table, contract: undefined }));
  return list.sort((a, b) => (a.table < b.table ? -1 : a.table > b.table ? 1 : 0));
}

/** A table name read from the catalog, quoted for SQL whatever characters it has. */
function quoteName(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function tableSql(table: string): string {
  return `SELECT _event_id AS id, _event_type AS type, _event_time AS time FROM ${table}`;
}

function deadLetterSql(table: string): string {
  return `SELECT id, event_type AS type, dataschema, failed_at AS time FROM ${table}`;
}

function fromRow(r: Record<string, unknown>, s: Source): ObservedEvent {
  const type = text(r.type);
  return {
    id: String(r.id),
    ...(s.contract === undefined ? {} : { contract: s.contract }),
    ...(type === undefined ? {} : { type }),
    time: timeValue(r.time),
    position: s.table,
  };
}

const DATASCHEMA = /^urn:herald:contract:(.+):\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/;

function fromDeadLetter(r: Record<string, unknown>): ObservedEvent {
  const type = text(r.type);
  const contract = DATASCHEMA.exec(text(r.dataschema) ?? '')?.[1];
  return {
    id: String(r.id),
    ...(contract === undefined ? {} : { contract }),
    ...(type === undefined ? {} : { type }),
    time: timeValue(r.time),
    position: deadLetterTable,
    deadLettered: true,
  };
}

function text(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function timeValue(v: unknown): Date | string | null {
  return v instanceof Date || typeof v === 'string' ? v : null;
}
