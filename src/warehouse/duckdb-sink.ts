import { HeraldError, ErrorCodes } from '../errors.js';
import { mergeTypes, sameType, type ColumnType, type Field } from './columns.js';
import { firstLine, openDuckDb, type OpenDuckDb } from './duckdb-instance.js';
import { createTableSql, deadLetterTableSql } from './ddl.js';
import { duckDbType, parseDuckDbType } from './duckdb-types.js';
import type { LoadBatch } from './rows.js';
import { addCount, deadLetterTable, withoutValues, type TableWriteCounts, type WarehouseSink, type WriteResult } from './sink.js';
import { incompatible, metaColumns, type TablePlan } from './table-plan.js';

/** Options of {@link DuckDbSink}. */
export interface DuckDbSinkOptions {
  /** The DuckDB database file; created, with its parent directory, when missing. */
  readonly path: string;
}

/** A name quoted for SQL: names are validated lowercase identifiers, but may be keywords (`order`). */
const q = (name: string): string => `"${name}"`;

const DEAD_LETTER_COLUMNS = ['id', 'topic', 'position', 'event_type', 'dataschema', 'reason', 'data'] as const;

/**
 * The embedded warehouse: one DuckDB file, one typed table per contract (see the
 * {@link WarehouseSink} port for the guarantees). Structs and lists stay typed (`STRUCT`, `[]`).
 *
 * Rows enter through DuckDB's appender into a temporary all-text staging table, then one
 * `INSERT ... SELECT ... ON CONFLICT (_event_id) DO NOTHING` casts them into the real table: the
 * appender is far faster than INSERT statements but cannot skip duplicates. Staging rows are
 * not logged and vanish with a failed transaction. A DuckDB file has one writing process; a
 * second one is refused with a retryable `DATABASE_ERROR`.
 */
export class DuckDbSink implements WarehouseSink {
  readonly name = 'duckdb';
  readonly #file: string;
  #db: OpenDuckDb | undefined;
  readonly #insertSql = new Map<TablePlan, string>();

  constructor(options: DuckDbSinkOptions) {
    if (typeof options?.path !== 'string' || options.path.trim() === '') {
      throw new HeraldError(
        ErrorCodes.CONFIG_INVALID,
        "option 'path' of the duckdb warehouse must be a file path, e.g. 'warehouse.duckdb'",
        {
          details: { option: 'path' },
        },
      );
    }
    this.#file = options.path;
  }

  async prepare(plans: readonly TablePlan[]): Promise<TablePlan[]> {
    this.#db ??= await openDuckDb(this.#file);
    const { connection } = this.#db;
    const run = async (sql: string): Promise<void> => {
      try {
        await connection.run(sql);
      } catch (cause) {
        throw this.#error(`cannot prepare the warehouse tables`, cause);
      }
    };
    await run(deadLetterTableSql({ dialect: 'duckdb' }));
    const prepared: TablePlan[] = [];
    for (const plan of plans) {
      const existing = await this.#columns(plan.table);
      if (existing.size === 0) {
        await run(createTableSql(plan, { dialect: 'duckdb' }));
        prepared.push(plan);
      } else {
        const evolved = evolve(plan, existing);
        // Adding a column rewrites nothing; a struct that gained fields is re-typed (DuckDB
        // rewrites that one column), which is how DuckDB extends a nested type.
        for (const c of evolved.add) await run(`ALTER TABLE ${q(plan.table)} ADD COLUMN ${q(c.name)} ${duckDbType(c.type)}`);
        for (const c of evolved.retype) await run(`ALTER TABLE ${q(plan.table)} ALTER ${q(c.name)} TYPE ${duckDbType(c.type)}`);
        prepared.push(evolved.plan);
      }
      await run(`DROP TABLE IF EXISTS temp.main.${stagingOf(plan)}`);
      await run(
        `CREATE TEMP TABLE ${stagingOf(plan)} (${[...metaColumns, ...prepared.at(-1)!.columns.map((c) => c.name)].map((n) => `${q(n)} VARCHAR`).join(', ')})`,
      );
    }
    this.#insertSql.clear();
    for (const plan of prepared) this.#insertSql.set(plan, insertSql(plan));
    return prepared;
  }

  async write(batch: LoadBatch): Promise<WriteResult> {
    if (!this.#db)
      throw new HeraldError(ErrorCodes.CLOSED, `duckdb warehouse '${this.#file}' is not prepared or is closed; call prepare() first`);
    const { connection } = this.#db;
    let inserted = 0;
    let duplicates = 0;
    let deadLettered = 0;
    const tables: Record<string, TableWriteCounts> = {};
    const byTopic: Record<string, number> = {};
    try {
      await connection.run('BEGIN TRANSACTION');
      for (const [plan, rows] of batch.rows) {
        if (rows.length === 0) continue;
        const appender = await connection.createAppender(stagingOf(plan), 'main', 'temp');
        try {
          for (const row of rows) {
            for (const v of row.values) {
              if (v === null) appender.appendNull();
              else appender.appendVarchar(v);
            }
            appender.endRow();
          }
          appender.flushSync();
        } finally {
          appender.closeSync();
        }
        const result = await connection.run(this.#insertSql.get(plan)!);
        inserted += result.rowsChanged;
        duplicates += rows.length - result.rowsChanged;
        tables[plan.table] = { inserted: result.rowsChanged, duplicates: rows.length - result.rowsChanged };
        await connection.run(`DELETE FROM temp.main.${stagingOf(plan)}`);
      }
      for (const d of batch.deadLetters) {
        const result = await connection.run(
          `INSERT INTO ${deadLetterTable} (${DEAD_LETTER_COLUMNS.join(', ')}) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING`,
          [d.id, d.topic, d.position, d.eventType, d.dataschema, d.reason, d.data],
        );
        deadLettered += result.rowsChanged;
        if (result.rowsChanged > 0) addCount(byTopic, d.topic, result.rowsChanged);
      }
      await connection.run('COMMIT');
    } catch (cause) {
      await connection.run('ROLLBACK').catch(() => undefined);
      if (/^Conversion Error/.test(firstLine(cause))) {
        throw new HeraldError(
          ErrorCodes.EVENT_INVALID,
          `a value of the batch does not convert to its column in duckdb warehouse '${this.#file}': ${withoutValues(firstLine(cause))}; nothing of the batch was written`,
          { cause, details: { file: this.#file } },
        );
      }
      throw this.#error('cannot write a batch; nothing of it was written', cause);
    }
    return { inserted, duplicates, deadLettered, tables, deadLetteredByTopic: byTopic };
  }

  close(): Promise<void> {
    this.#db?.close();
    return Promise.resolve();
  }

  /** The table's columns and their types as DuckDB reports them; empty when it does not exist. */
  async #columns(table: string): Promise<Map<string, string>> {
    const reader = await this.#db!.connection.runAndReadAll(
      `SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = 'main' AND table_name = $1 AND NOT internal`,
      [table],
    );
    return new Map(reader.getRows().map(([name, type]) => [String(name), String(type)]));
  }

  #error(what: string, cause: unknown): HeraldError {
    return new HeraldError(ErrorCodes.DATABASE_ERROR, `duckdb warehouse '${this.#file}': ${what}: ${firstLine(cause)}`, {
      cause,
      retryable: true,
      details: { file: this.#file },
    });
  }
}

/** What a table that exists needs in order to take the plan; throws `SCHEMA_INCOMPATIBLE`. */
function evolve(plan: TablePlan, existing: ReadonlyMap<string, string>): { plan: TablePlan; add: Field[]; retype: Field[] } {
  const add: Field[] = [];
  const retype: Field[] = [];
  const columns: Field[] = [];
  for (const column of plan.columns) {
    const have = existing.get(column.name);
    if (have === undefined) {
      add.push(column);
      columns.push(column);
      continue;
    }
    const type = parseDuckDbType(have);
    const merged: ColumnType | { conflict: string } = type
      ? mergeTypes(type, column.type, column.name)
      : { conflict: `'${column.name}' changes from ${have} to ${duckDbType(column.type)}` };
    if ('conflict' in merged) {
      const culprit = plan.versions.find((v) => plan.ownFields.get(v)!.has(column.name)) ?? plan.versions.at(-1)!;
      throw incompatible(culprit, plan.table, merged.conflict);
    }
    if (type && !sameType(type, merged)) retype.push({ ...column, type: merged });
    columns.push({ ...column, type: merged });
  }
  const known = new Set<string>([...metaColumns, '_loaded_at', ...plan.columns.map((c) => c.name)]);
  for (const [name, have] of existing) {
    if (known.has(name)) continue;
    // A column of an older contract version, or one added by hand: kept, filled with NULL.
    columns.push({ name, property: undefined, type: parseDuckDbType(have) ?? { kind: 'varchar' } });
  }
  return { plan: { ...plan, columns }, add, retype };
}

function stagingOf(plan: TablePlan): string {
  return `herald_stage_${plan.table}`;
}

function insertSql(plan: TablePlan): string {
  const casts = [
    ...metaColumns.map((m) => (m === '_event_time' ? `CAST(${m} AS TIMESTAMP WITH TIME ZONE)` : m)),
    ...plan.columns.map((c) => castOf(c)),
  ];
  return (
    `INSERT INTO ${q(plan.table)} (${[...metaColumns, ...plan.columns.map((c) => c.name)].map(q).join(', ')}) ` +
    `SELECT ${casts.join(', ')} FROM temp.main.${stagingOf(plan)} ON CONFLICT (_event_id) DO NOTHING`
  );
}

function castOf(c: Field): string {
  switch (c.type.kind) {
    case 'varchar':
      return q(c.name);
    case 'struct':
    case 'list':
      return `CAST(CAST(${q(c.name)} AS JSON) AS ${duckDbType(c.type)})`;
    default:
      return `CAST(${q(c.name)} AS ${duckDbType(c.type)})`;
  }
}
