import { HeraldError, ErrorCodes } from '../errors.js';
import { quoteIdent } from '../postgres/identifiers.js';
import { connectPg, isConnectionError, redactUrl, type PgClient } from '../postgres/connect.js';
import type { Field } from './columns.js';
import { createTableSql, deadLetterTableSql, metaColumnTypes, postgresType as pgType, type DdlTarget } from './ddl.js';
import type { LoadBatch, LoadRow } from './rows.js';
import { addCount, deadLetterTable, withoutValues, type TableWriteCounts, type WarehouseSink, type WriteResult } from './sink.js';
import { incompatible, metaColumns, type TablePlan } from './table-plan.js';

/** Options of {@link PostgresSink}; defaults in {@link postgresSinkDefaults}. */
export interface PostgresSinkOptions {
  /** `postgres://user:password@host:port/database`. */
  readonly url: string;
  /** The schema the tables live in, created when missing; a lowercase identifier. */
  readonly schema?: string;
}

/** The defaults of {@link PostgresSinkOptions}, in one table. */
export const postgresSinkDefaults = { schema: 'public' } as const;

const DEAD_LETTER_COLUMNS = ['id', 'topic', 'position', 'event_type', 'dataschema', 'reason', 'data'] as const;

const q = (name: string): string => `"${name}"`;

/**
 * A PostgreSQL warehouse: one table per contract in one schema (see the {@link WarehouseSink}
 * port for the guarantees). PostgreSQL has no struct type that evolves well, so nested objects
 * and arrays are `jsonb`; everything else is typed.
 *
 * A batch goes in as one `INSERT ... SELECT ... FROM jsonb_array_elements($1::jsonb)` per table,
 * its rows serialised as one JSON text: one round trip, one plan and one parse whatever the batch
 * size, with the casts done by the server, and
 * `ON CONFLICT (_event_id) DO NOTHING` for idempotence. A dropped connection is replaced on the
 * next write.
 */
export class PostgresSink implements WarehouseSink {
  readonly name = 'postgres';
  readonly #url: string;
  readonly #schema: string;
  #client: PgClient | undefined;
  #broken = false;
  readonly #insertSql = new Map<TablePlan, { fromJson: string; fromArrays: string }>();
  #closed = false;

  constructor(options: PostgresSinkOptions) {
    this.#url = options.url;
    this.#schema = options.schema ?? postgresSinkDefaults.schema;
    quoteIdent(this.#schema, 'schema');
  }

  async prepare(plans: readonly TablePlan[]): Promise<TablePlan[]> {
    const client = await this.#connect();
    const s = q(this.#schema);
    const run = async (sql: string, params: unknown[] = []): Promise<{ rows: string[][] }> => {
      try {
        return await client.query({ text: sql, values: params, rowMode: 'array' });
      } catch (cause) {
        throw this.#error('cannot prepare the warehouse tables', cause);
      }
    };
    const target: DdlTarget = { dialect: 'postgres', schema: this.#schema };
    await run(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await run(deadLetterTableSql(target));
    const prepared: TablePlan[] = [];
    for (const plan of plans) {
      const table = `${s}.${q(plan.table)}`;
      const { rows } = await run(
        `SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid ` +
          `JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped`,
        [this.#schema, plan.table],
      );
      const existing = new Map(rows.map(([name, type]) => [name!, type!]));
      if (existing.size === 0) {
        await run(createTableSql(plan, target));
        prepared.push(plan);
        continue;
      }
      const columns: Field[] = [];
      for (const column of plan.columns) {
        const have = existing.get(column.name);
        // Adding a nullable column without a default only changes the catalog: no rewrite.
        if (have === undefined) await run(`ALTER TABLE ${table} ADD COLUMN ${q(column.name)} ${pgType(column.type)}`);
        else if (have !== pgType(column.type)) {
          const culprit = plan.versions.find((v) => plan.ownFields.get(v)!.has(column.name)) ?? plan.versions.at(-1)!;
          throw incompatible(culprit, plan.table, `'${column.name}' changes from ${have} to ${pgType(column.type)}`);
        }
        columns.push(column);
      }
      const known = new Set<string>([...metaColumns, '_loaded_at', ...plan.columns.map((c) => c.name)]);
      // Columns of older contract versions (or added by hand) are kept and filled with NULL; as
      // text they accept that NULL whatever their real type.
      for (const name of existing.keys()) if (!known.has(name)) columns.push({ name, property: undefined, type: { kind: 'varchar' } });
      prepared.push({ ...plan, columns });
    }
    this.#insertSql.clear();
    for (const plan of prepared)
      this.#insertSql.set(plan, { fromJson: this.#insert(plan, 'json'), fromArrays: this.#insert(plan, 'arrays') });
    return prepared;
  }

  async write(batch: LoadBatch): Promise<WriteResult> {
    const client = await this.#connect();
    let inserted = 0;
    let duplicates = 0;
    let deadLettered = 0;
    const tables: Record<string, TableWriteCounts> = {};
    const byTopic: Record<string, number> = {};
    try {
      await client.query('BEGIN');
      for (const [plan, rows] of batch.rows) {
        if (rows.length === 0) continue;
        const result = await this.#insertRows(client, plan, rows);
        inserted += result.rowCount ?? 0;
        duplicates += rows.length - (result.rowCount ?? 0);
        tables[plan.table] = { inserted: result.rowCount ?? 0, duplicates: rows.length - (result.rowCount ?? 0) };
      }
      if (batch.deadLetters.length > 0) {
        const d = batch.deadLetters;
        const result = await client.query(
          `INSERT INTO ${q(this.#schema)}.${deadLetterTable} (${DEAD_LETTER_COLUMNS.join(', ')}) ` +
            `SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) ON CONFLICT (id) DO NOTHING RETURNING topic`,
          [
            d.map((x) => x.id),
            d.map((x) => x.topic),
            d.map((x) => x.position),
            d.map((x) => x.eventType),
            d.map((x) => x.dataschema),
            d.map((x) => x.reason),
            d.map((x) => x.data),
          ],
        );
        deadLettered += result.rowCount ?? 0;
        for (const r of result.rows as { topic: string }[]) addCount(byTopic, r.topic, 1);
      }
      await client.query('COMMIT');
    } catch (cause) {
      await client.query('ROLLBACK').catch(() => undefined);
      const code = (cause as { code?: string }).code ?? '';
      if (code.startsWith('22')) {
        throw new HeraldError(
          ErrorCodes.EVENT_INVALID,
          `a value of the batch does not convert to its column in the postgresql warehouse: ${withoutValues((cause as Error).message)}; nothing of the batch was written`,
          { cause, details: { sqlstate: code } },
        );
      }
      throw this.#error('cannot write a batch; nothing of it was written', cause);
    }
    return { inserted, duplicates, deadLettered, tables, deadLetteredByTopic: byTopic };
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#client?.end().catch(() => undefined);
    this.#client = undefined;
  }

  /**
   * Inserts one table's rows, skipping event ids already loaded. The rows travel as one JSON
   * text: V8 serialises it natively and the server parses it once (`jsonb`), which costs far less
   * than pg's per-element escaping of `text[]` parameters. A value JSON cannot carry as the text
   * parameters did (a lone UTF-16 surrogate, which JSON.stringify escapes as `\ud8xx` and jsonb
   * refuses, where a text parameter turns it into U+FFFD) sends the batch as `text[]` instead.
   */
  async #insertRows(client: PgClient, plan: TablePlan, rows: readonly LoadRow[]): Promise<{ rowCount: number | null }> {
    const sql = this.#insertSql.get(plan)!;
    const values = new Array<readonly (string | null)[]>(rows.length);
    for (let r = 0; r < rows.length; r++) values[r] = rows[r]!.values;
    const text = JSON.stringify(values);
    if (!text.includes('\\ud')) return client.query(sql.fromJson, [text]);
    const width = metaColumns.length + plan.columns.length;
    const arrays: (string | null)[][] = Array.from({ length: width }, () => new Array<string | null>(rows.length));
    rows.forEach((row, r) => {
      for (let c = 0; c < width; c++) arrays[c]![r] = row.values[c] ?? null;
    });
    return client.query(sql.fromArrays, arrays);
  }

  /**
   * The INSERT of a batch into the plan's table: from `$1`, a JSON array of rows, each an array
   * of the column values as text or null (`->>` gives the text back exactly, null for JSON null),
   * or from one `text[]` parameter per column. The casts are the same either way.
   */
  #insert(plan: TablePlan, from: 'json' | 'arrays'): string {
    const names = [...metaColumns, ...plan.columns.map((c) => c.name)];
    const types = [...metaColumns.map((m) => metaColumnTypes.postgres[m]), ...plan.columns.map((c) => pgType(c.type))];
    const into = `INSERT INTO ${q(this.#schema)}.${q(plan.table)} (${names.map(q).join(', ')}) `;
    if (from === 'json') {
      return (
        into +
        `SELECT ${names.map((_, i) => `(r->>${i})::${types[i]}`).join(', ')} ` +
        `FROM jsonb_array_elements($1::jsonb) AS s(r) ON CONFLICT (_event_id) DO NOTHING`
      );
    }
    return (
      into +
      `SELECT ${names.map((n, i) => `${q(n)}::${types[i]}`).join(', ')} ` +
      `FROM unnest(${names.map((_, i) => `$${i + 1}::text[]`).join(', ')}) AS s(${names.map(q).join(', ')}) ON CONFLICT (_event_id) DO NOTHING`
    );
  }

  async #connect(): Promise<PgClient> {
    if (this.#closed) throw new HeraldError(ErrorCodes.CLOSED, `postgresql warehouse ${redactUrl(this.#url)} is closed`);
    if (this.#client && this.#broken) {
      await this.#client.end().catch(() => undefined);
      this.#client = undefined;
    }
    if (!this.#client) {
      const client = await connectPg(this.#url, 'herald-load');
      this.#broken = false;
      client.on('error', () => {
        this.#broken = true;
      });
      this.#client = client;
    }
    return this.#client;
  }

  #error(what: string, cause: unknown): HeraldError {
    const code = (cause as { code?: string }).code ?? '';
    if (isConnectionError(cause)) this.#broken = true;
    return new HeraldError(
      ErrorCodes.DATABASE_ERROR,
      `postgresql warehouse ${redactUrl(this.#url)}: ${what}: ${withoutValues((cause as Error).message)}`,
      {
        cause,
        // A lost connection, a conflict or a full disk may heal; a statement the server refuses
        // (a missing privilege, a table changed by hand) will not.
        retryable: !code.startsWith('42') && !code.startsWith('22'),
        details: { sqlstate: code },
      },
    );
  }
}
