import { HeraldError, ErrorCodes } from '../errors.js';
import type { HeraldEvent } from '../event.js';
import {
  isBetterSqlite3,
  requireSqliteTransaction,
  type BetterSqlite3Like,
  type BetterSqlite3StatementLike,
} from '../data-layers/better-sqlite3.js';
import { drizzleBetterSqlite3Client } from '../data-layers/drizzle.js';
import { executorFor } from '../store/executor-for.js';
import { OutboxRowBuilder, type WriterOptions, type AppendInput, type BuiltRow, type OutboxRow } from '../store/outbox-rows.js';
import type { OutboxWriter } from '../store/port.js';
import { sqliteDatabaseError } from './connect.js';
import { sqliteNames, type SqliteOutboxSchemaOptions } from './schema.js';

/** Options of {@link SqliteOutbox}. */
export interface SqliteOutboxOptions extends SqliteOutboxSchemaOptions, WriterOptions {}

/** The outbox columns an append writes, in the order of {@link rowParams}. */
const COLUMNS = 'event_id, topic, partition_key, type, source, subject, time, dataschema, traceparent, data';
const ROW_PLACEHOLDERS = '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)';
/** Rows per INSERT on the asynchronous path: 10 parameters each stays far below SQLite's 32766. */
const ROWS_PER_INSERT = 500;

function rowParams(r: OutboxRow): unknown[] {
  return [r.event_id, r.topic, r.partition_key, r.type, r.source, r.subject, r.time, r.dataschema, r.traceparent, JSON.stringify(r.data)];
}

/**
 * The transactional outbox on SQLite. `append` validates each payload against its contract, then
 * inserts the events, in input order, in the caller's open transaction (which it never begins,
 * commits or rolls back). Nothing else is needed for order: SQLite has a single writer per file,
 * and a transaction holds the write lock from its first write to its COMMIT, so the
 * `AUTOINCREMENT` ids are handed out in commit order — per key and across keys.
 *
 * better-sqlite3 is synchronous and so is `db.transaction(fn)`: inside it, call
 * {@link appendSync} / {@link appendManySync}, which write before they return (a promise could
 * not be awaited there, and an error inside one would not roll the transaction back). The
 * asynchronous {@link append} takes the same handles (writing synchronously too) and the
 * transactions of the asynchronous data layers over better-sqlite3: Kysely, knex, TypeORM,
 * Prisma. An invalid payload throws `EVENT_INVALID` before any SQL is sent; a handle outside a
 * transaction throws `TRANSACTION_REQUIRED` saying what to pass.
 */
export class SqliteOutbox implements OutboxWriter {
  readonly #rows: OutboxRowBuilder;
  readonly #table: string;
  readonly #insertOne: string;
  /** The prepared single-row INSERT per better-sqlite3 connection, so each is compiled once. */
  readonly #prepared = new WeakMap<BetterSqlite3Like, BetterSqlite3StatementLike>();

  constructor(options: SqliteOutboxOptions) {
    this.#rows = new OutboxRowBuilder(options);
    this.#table = sqliteNames(options).outbox;
    this.#insertOne = `INSERT INTO ${this.#table} (${COLUMNS}) VALUES ${ROW_PLACEHOLDERS}`;
  }

  /**
   * Validates and appends one event with a better-sqlite3 `Database` inside a transaction (or the
   * `tx` of Drizzle's better-sqlite3 `db.transaction((tx) => ...)`); written when it returns.
   */
  appendSync<T>(tx: unknown, contract: string, data: T, attributes: Omit<AppendInput<T>, 'contract' | 'data'> = {}): HeraldEvent<T> {
    return this.appendManySync(tx, [{ contract, data, ...attributes }])[0] as HeraldEvent<T>;
  }

  /** Validates every input first, then appends them all, in order, synchronously; all or none. */
  appendManySync(tx: unknown, inputs: readonly AppendInput[]): HeraldEvent[] {
    const db = syncHandleOf(tx);
    if (db === undefined) {
      throw new HeraldError(
        ErrorCodes.TRANSACTION_REQUIRED,
        'appendSync takes a better-sqlite3 Database inside db.transaction(), or the tx of Drizzle (drizzle-orm/better-sqlite3) db.transaction((tx) => ...); for other data layers, await append(tx, ...)',
      );
    }
    return this.#writeSync(db, inputs);
  }

  /** Validates and appends one event in `tx`; resolves with the event as it will be delivered. */
  async append<T>(
    tx: unknown,
    contract: string,
    data: T,
    attributes: Omit<AppendInput<T>, 'contract' | 'data'> = {},
  ): Promise<HeraldEvent<T>> {
    const [e] = await this.appendMany(tx, [{ contract, data, ...attributes }]);
    return e as HeraldEvent<T>;
  }

  /**
   * Validates every input first, then appends them all in `tx`, in order; all or none. With a
   * better-sqlite3 handle the rows are written before this returns, as with {@link appendManySync}.
   */
  appendMany(tx: unknown, inputs: readonly AppendInput[]): Promise<HeraldEvent[]> {
    try {
      const db = syncHandleOf(tx);
      if (db !== undefined) return Promise.resolve(this.#writeSync(db, inputs));
    } catch (err) {
      return Promise.reject(err as Error);
    }
    return this.#writeAsync(tx, inputs);
  }

  #build(inputs: readonly AppendInput[]): BuiltRow[] {
    return inputs.map((input) => this.#rows.build(input));
  }

  #writeSync(db: BetterSqlite3Like, inputs: readonly AppendInput[]): HeraldEvent[] {
    requireSqliteTransaction(db);
    const rows = this.#build(inputs);
    if (rows.length === 0) return [];
    const what = `cannot append ${rows.length} event(s) to the outbox`;
    try {
      let insert = this.#prepared.get(db);
      if (insert === undefined) {
        insert = db.prepare(this.#insertOne);
        this.#prepared.set(db, insert);
      }
      for (const r of rows) insert.run(...rowParams(r.row));
    } catch (cause) {
      throw sqliteDatabaseError(cause, what, fileOf(db), busyTimeoutOf(db));
    }
    return rows.map((r) => r.event);
  }

  async #writeAsync(tx: unknown, inputs: readonly AppendInput[]): Promise<HeraldEvent[]> {
    const executor = executorFor(tx, 'sqlite');
    if (executor.inTransaction !== true) {
      throw new HeraldError(
        ErrorCodes.TRANSACTION_REQUIRED,
        'cannot tell whether the sqlite handle is inside a transaction; pass a better-sqlite3 Database inside db.transaction(), or the transaction of a data layer; nothing was written',
      );
    }
    const rows = this.#build(inputs);
    const what = `cannot append ${rows.length} event(s) to the outbox`;
    try {
      for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
        const chunk = rows.slice(i, i + ROWS_PER_INSERT);
        await executor.query(
          `INSERT INTO ${this.#table} (${COLUMNS}) VALUES ${chunk.map(() => ROW_PLACEHOLDERS).join(', ')}`,
          chunk.flatMap((r) => rowParams(r.row)),
        );
      }
    } catch (cause) {
      throw sqliteDatabaseError(cause, what, undefined);
    }
    return rows.map((r) => r.event);
  }
}

/** The better-sqlite3 `Database` of a handle the synchronous path takes, or `undefined`. */
function syncHandleOf(tx: unknown): BetterSqlite3Like | undefined {
  return isBetterSqlite3(tx) ? tx : drizzleBetterSqlite3Client(tx);
}

function fileOf(db: BetterSqlite3Like): string {
  return db.memory ? ':memory:' : db.name;
}

function busyTimeoutOf(db: BetterSqlite3Like): number | undefined {
  try {
    return Number(db.pragma('busy_timeout', { simple: true }));
  } catch {
    return undefined;
  }
}
