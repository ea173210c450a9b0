import { preparedStatementName } from './statement-name.js';
import { HeraldError, ErrorCodes } from '../errors.js';
import type { HeraldEvent } from '../event.js';
import { OutboxRowBuilder, type WriterOptions, type AppendInput, type BuiltRow, type OutboxRow } from '../store/outbox-rows.js';
import type { OutboxWriter } from '../store/port.js';
import { outboxNames, type OutboxNames, type PostgresOutboxSchemaOptions } from './schema.js';
import { executorFor } from '../store/executor-for.js';
import type { SqlExecutor } from '../store/sql-executor.js';
import { isConnectionError } from './connect.js';
import { encodeWalMessage } from './wal-message.js';

/** Options of {@link PostgresOutbox}. */
export interface PostgresOutboxOptions extends PostgresOutboxSchemaOptions, WriterOptions {
  /**
   * Take a transaction-scoped advisory lock per partition key before inserting, so that two
   * transactions appending for the same key commit in the order they took their ids. This is
   * what makes per-key delivery order equal commit order. Default true; turn it off only when
   * the application already serialises writers per key.
   */
  readonly serializeKeys?: boolean;
  /**
   * Send the append statements as named (prepared) statements, planned once per connection.
   * Default true. Turn it off behind a connection pooler that cannot keep prepared statements
   * (PgBouncer in transaction mode before 1.21).
   */
  readonly prepareStatements?: boolean;
  /**
   * Where events are written. `table` (default): a row in the outbox table, which any relay can
   * read and which stays queryable until delivered. `wal`: a transactional logical message
   * (`pg_logical_emit_message`) that only the logical relay reads: no table writes, no bloat,
   * but no queryable backlog either (see the README).
   */
  readonly mode?: 'table' | 'wal';
  /**
   * Hold every appended row back from the polling relay for this long, in ms, so that an
   * `EagerDispatcher` can publish it right after the commit instead (see
   * `src/postgres/eager-dispatch.ts`). Default 0: no hold, the relay takes the row at once.
   * `appendMany(tx, inputs, { holdMs })` overrides it per call. If nobody dispatches the rows
   * (the process died after its commit), the polling relay delivers them when the hold ends, so
   * the hold is also the worst-case extra latency. It delays the later events of the same key
   * as well, because the relay keeps a key in order. For the polling relay only: the logical
   * relay streams the insert itself and ignores the hold, so an eager dispatch on top would
   * publish every event twice (the dispatcher refuses to run then); `mode: 'wal'` has no row to
   * hold and refuses the option.
   */
  readonly holdMs?: number;
}

/** Per-call options of {@link PostgresOutbox.appendMany}. */
export interface AppendOptions {
  /** Overrides {@link PostgresOutboxOptions.holdMs} for the events of this call. */
  readonly holdMs?: number;
}

export type { AppendInput };

/** The parameters of {@link insertOneSql}, in its order. */
function rowParams(r: OutboxRow): unknown[] {
  return [r.event_id, r.topic, r.partition_key, r.type, r.source, r.subject, r.time, r.dataschema, r.traceparent, JSON.stringify(r.data)];
}

/** Longest hold accepted: a longer one would mostly delay crash recovery, not help dispatch. */
const MAX_HOLD_MS = 3_600_000;

/** Validates a hold once, naming the option; a hold needs outbox rows, so `wal` mode refuses one. */
function checkHoldMs(holdMs: number, mode: 'table' | 'wal'): number {
  if (!Number.isInteger(holdMs) || holdMs < 0 || holdMs > MAX_HOLD_MS) {
    throw new HeraldError(ErrorCodes.CONFIG_INVALID, `option 'holdMs' must be an integer from 0 to ${MAX_HOLD_MS}, got ${String(holdMs)}`, {
      details: { option: 'holdMs' },
    });
  }
  if (holdMs > 0 && mode === 'wal') {
    throw new HeraldError(
      ErrorCodes.CONFIG_INVALID,
      "option 'holdMs' needs mode 'table': wal messages are read by the logical relay only, which cannot hold them back for eager dispatch",
      { details: { option: 'holdMs' } },
    );
  }
  return holdMs;
}

/** Advisory-lock class id for Herald's per-key locks ('HRLD'), apart from application locks. */
const LOCK_CLASS = 0x48524c44;

/**
 * The transactional outbox on PostgreSQL. `append` validates each payload against its contract
 * and inserts it in the caller's open transaction: the event exists if and only if that
 * transaction commits. It never begins, commits or rolls back. An invalid payload throws
 * `EVENT_INVALID` before anything is sent to the database, so nothing of the call is written.
 * With `holdMs`, the rows are written held back from the polling relay for an `EagerDispatcher`
 * (see {@link PostgresOutboxOptions.holdMs}); that changes when they are delivered, never whether.
 */
export class PostgresOutbox implements OutboxWriter {
  readonly #rows: OutboxRowBuilder;
  readonly #manySql: string;
  readonly #oneSql: string;
  readonly #names: { one: string; many: string } | undefined;
  readonly #walPrefix: string | undefined;
  readonly #holdMs: number;
  /** The statements that set `retry_at` (a hold), built apart so plain appends stay unchanged. */
  readonly #held: { oneSql: string; manySql: string; names: { one: string; many: string } | undefined } | undefined;

  constructor(options: PostgresOutboxOptions) {
    this.#rows = new OutboxRowBuilder(options);
    const names = outboxNames(options);
    const serializeKeys = options.serializeKeys ?? true;
    const mode = options.mode ?? 'table';
    if (mode !== 'table' && mode !== 'wal') {
      throw new HeraldError(ErrorCodes.CONFIG_INVALID, `option 'mode' must be 'table' or 'wal', got '${String(mode)}'`, {
        details: { option: 'mode' },
      });
    }
    // WAL messages reach the relay in commit order, so they need no per-key lock.
    this.#walPrefix = mode === 'wal' ? names.messagePrefix : undefined;
    this.#manySql = mode === 'wal' ? EMIT_MANY_SQL : insertManySql(names, serializeKeys);
    this.#oneSql = mode === 'wal' ? EMIT_ONE_SQL : insertOneSql(names, serializeKeys);
    // Statement names are per connection; they include a hash of the text so that two outboxes
    // (different schemas or settings) on one connection never share a name.
    this.#names =
      options.prepareStatements === false ? undefined : { one: preparedStatementName('herald_', this.#oneSql), many: preparedStatementName('herald_', this.#manySql) };
    this.#holdMs = checkHoldMs(options.holdMs ?? 0, mode);
    if (mode === 'table') {
      const oneSql = insertOneSql(names, serializeKeys, true);
      const manySql = insertManySql(names, serializeKeys, true);
      this.#held = {
        oneSql,
        manySql,
        names: options.prepareStatements === false ? undefined : { one: preparedStatementName('herald_', oneSql), many: preparedStatementName('herald_', manySql) },
      };
    }
  }

  /** Validates and appends one event in `tx`; resolves with the event as it will be delivered. */
  async append<T>(
    tx: unknown,
    contract: string,
    data: T,
    attributes: Omit<AppendInput<T>, 'contract' | 'data'> = {},
    options: AppendOptions = {},
  ): Promise<HeraldEvent<T>> {
    const [e] = await this.appendMany(tx, [{ contract, data, ...attributes }], options);
    return e as HeraldEvent<T>;
  }

  /**
   * Validates every input first, then appends them all in `tx` with one statement, in the given
   * order. If any input is invalid, none is written. With a hold (`holdMs`), the rows are kept
   * from the polling relay until the hold ends or an `EagerDispatcher` handles them.
   */
  async appendMany(tx: unknown, inputs: readonly AppendInput[], options: AppendOptions = {}): Promise<HeraldEvent[]> {
    const executor = executorFor(tx, 'postgres');
    const holdMs =
      options.holdMs === undefined ? this.#holdMs : checkHoldMs(options.holdMs, this.#walPrefix === undefined ? 'table' : 'wal');
    if (inputs.length === 0) return [];
    const rows = inputs.map((input) => this.#build(input));
    try {
      if (holdMs > 0 && this.#held !== undefined) {
        await this.#appendHeld(executor, rows, holdMs);
      } else if (this.#walPrefix !== undefined) {
        const messages = rows.map(({ event: { data, ...attributes }, row }) =>
          encodeWalMessage({ topic: row.topic as string, event: attributes, data: JSON.stringify(data) }),
        );
        if (messages.length === 1) await executor.query(this.#oneSql, [this.#walPrefix, messages[0]], this.#names?.one);
        else await executor.query(this.#manySql, [this.#walPrefix, messages], this.#names?.many);
      } else if (rows.length === 1) {
        await executor.query(this.#oneSql, rowParams(rows[0]!.row), this.#names?.one);
      } else {
        await executor.query(this.#manySql, [JSON.stringify(rows.map((r) => r.row))], this.#names?.many);
      }
    } catch (cause) {
      throw databaseError(cause, `cannot append ${rows.length} event(s) to the outbox`);
    }
    return rows.map((r) => r.event);
  }

  /** The held form of the table append: the same rows, with `retry_at` at the end of the hold. */
  async #appendHeld(executor: SqlExecutor, rows: readonly BuiltRow[], holdMs: number): Promise<void> {
    const held = this.#held!;
    if (rows.length === 1) {
      await executor.query(held.oneSql, [...rowParams(rows[0]!.row), holdMs], held.names?.one);
    } else {
      await executor.query(held.manySql, [JSON.stringify(rows.map((r) => r.row)), holdMs], held.names?.many);
    }
  }

  #build(input: AppendInput): BuiltRow {
    return this.#rows.build(input);
  }
}

/**
 * One INSERT for any number of events. The events travel as a single JSON parameter so that the
 * statement is the same for every driver (typed `text` first, so that no driver re-encodes it). When `serializeKeys` is on, the per-key advisory locks
 * are taken (in hash order, to avoid deadlocks between two multi-key appends) before any row gets
 * its id, because the MATERIALIZED aggregate must finish before the INSERT produces a row.
 */
function insertManySql(n: OutboxNames, serializeKeys: boolean, held = false): string {
  const locks = serializeKeys
    ? `, locks AS MATERIALIZED (
        SELECT count(pg_advisory_xact_lock(${LOCK_CLASS}, h)) AS n
        FROM (SELECT DISTINCT hashtext(partition_key) AS h FROM input ORDER BY 1) k)`
    : '';
  return `WITH input AS MATERIALIZED (
      SELECT * FROM ROWS FROM (json_to_recordset($1::text::json) AS (
        event_id uuid, topic text, partition_key text, type text, source text, subject text,
        time timestamptz, dataschema text, traceparent text, data json)) WITH ORDINALITY AS e(
        event_id, topic, partition_key, type, source, subject, time, dataschema, traceparent, data, ord))${locks}
    INSERT INTO ${n.outbox} (event_id, topic, partition_key, type, source, subject, time, dataschema, traceparent, data${held ? ', retry_at' : ''})
    SELECT event_id, topic, partition_key, type, source, subject, time, dataschema, traceparent, data${held ? `, ${holdUntil('$2')}` : ''}
    FROM (SELECT input.* FROM input${serializeKeys ? ', locks' : ''} ORDER BY ord) ordered`;
}

/**
 * The single-event form of {@link insertManySql}: plain parameters, and the key's advisory lock in
 * a one-row subquery that the INSERT's only row depends on, so the lock is held before the row
 * takes its id.
 */
function insertOneSql(n: OutboxNames, serializeKeys: boolean, held = false): string {
  const lock = serializeKeys ? ` FROM (SELECT pg_advisory_xact_lock(${LOCK_CLASS}, hashtext($3::text))) AS key_lock` : '';
  return `INSERT INTO ${n.outbox} (event_id, topic, partition_key, type, source, subject, time, dataschema, traceparent, data${held ? ', retry_at' : ''})
    SELECT $1::uuid, $2::text, $3::text, $4::text, $5::text, $6::text, $7::timestamptz, $8::text, $9::text, $10::text::json${held ? `, ${holdUntil('$11')}` : ''}${lock}`;
}

/**
 * The end of a hold: the polling relay skips a key while any of its rows has `retry_at` in the
 * future. Counted from the insert (`clock_timestamp()`), not from the transaction's start
 * (`now()`), so that the work a transaction did before its append does not use up the hold.
 */
function holdUntil(param: string): string {
  return `clock_timestamp() + ${param}::integer * interval '1 millisecond'`;
}

/** WAL-message mode: transactional logical messages, one per event, in input order. */
const EMIT_ONE_SQL = 'SELECT pg_logical_emit_message(true, $1::text, $2::text)';
const EMIT_MANY_SQL = 'SELECT count(pg_logical_emit_message(true, $1::text, m)) FROM unnest($2::text[]) WITH ORDINALITY AS u(m, ord)';

/** Wraps a driver error; says to run migrate when the outbox table is missing (SQLSTATE 42P01). */
export function databaseError(cause: unknown, what: string): HeraldError {
  const code = (cause as { code?: string }).code;
  if (code === '42P01' || code === '3F000') {
    return new HeraldError(ErrorCodes.NOT_MIGRATED, `${what}: the outbox tables do not exist; run 'herald migrate' first`, { cause });
  }
  return new HeraldError(ErrorCodes.DATABASE_ERROR, `${what}: ${(cause as Error).message}`, {
    cause,
    retryable: code === '40001' || code === '40P01' || isConnectionError(cause),
    details: { sqlstate: code },
  });
}
