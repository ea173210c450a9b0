import { crc32 } from 'node:zlib';
import { HeraldError, ErrorCodes } from '../errors.js';
import type { HeraldEvent } from '../event.js';
import { executorFor } from '../store/executor-for.js';
import { OutboxRowBuilder, type WriterOptions, type AppendInput, type OutboxRow } from '../store/outbox-rows.js';
import type { OutboxWriter } from '../store/port.js';
import type { SqlExecutor, SqlResult } from '../store/sql-executor.js';
import { mysqlDatabaseError } from './connect.js';
import { KEY_LOCK_SLOTS, mysqlNames, type MysqlNames, type MysqlOutboxSchemaOptions } from './schema.js';

/** Options of {@link MysqlOutbox}. */
export interface MysqlOutboxOptions extends MysqlOutboxSchemaOptions, WriterOptions {}

/** The OK packet's flag for "this session is inside a transaction". */
const SERVER_STATUS_IN_TRANS = 1;

/** The outbox columns an append writes, in the order of {@link rowParams}. */
const COLUMNS = 'event_id, topic, partition_key, type, source, subject, time, dataschema, traceparent, data';
const ROW_PLACEHOLDERS = '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)';

function rowParams(r: OutboxRow): unknown[] {
  return [r.event_id, r.topic, r.partition_key, r.type, r.source, r.subject, r.time, r.dataschema, r.traceparent, JSON.stringify(r.data)];
}

/**
 * The key-lock slot of a partition key: CRC32 of its UTF-8 bytes modulo {@link KEY_LOCK_SLOTS}.
 * Any writer, in any language, that appends to this outbox must lock the same slot.
 */
export function keyLockSlot(partitionKey: string): number {
  return crc32(Buffer.from(partitionKey, 'utf8')) % KEY_LOCK_SLOTS;
}

/**
 * The transactional outbox on MySQL 8 / MariaDB 10.6+. `append` validates each payload against
 * its contract, then, in the caller's open transaction (which it never begins, commits or rolls
 * back):
 *
 * 1. locks the `key_lock` rows of the events' key slots, in slot order, in one UPDATE that sets
 *    `n = n`: InnoDB takes the exclusive row locks of the matched rows (in REPEATABLE READ and
 *    READ COMMITTED alike) but writes nothing, so the lock costs no redo or undo. The locks
 *    last until the caller's COMMIT or ROLLBACK, so a second transaction
 *    for the same key waits here, before its rows get their AUTO_INCREMENT ids: per key, id
 *    order is commit order. The UPDATE's OK packet tells whether the session is in a
 *    transaction; when it is not, `TRANSACTION_REQUIRED` is thrown before anything is inserted.
 * 2. inserts every event with one multi-row INSERT, in input order (ids increase in row order
 *    within one statement in every `innodb_autoinc_lock_mode`).
 *
 * An invalid payload throws `EVENT_INVALID` before any SQL is sent, so nothing of the call is
 * written; the event exists if and only if the caller's transaction commits.
 */
export class MysqlOutbox implements OutboxWriter {
  readonly #rows: OutboxRowBuilder;
  readonly #names: MysqlNames;
  readonly #oneSql: string;

  constructor(options: MysqlOutboxOptions) {
    this.#rows = new OutboxRowBuilder(options);
    this.#names = mysqlNames(options);
    this.#oneSql = appendOneSql(this.#names);
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

  async #appendOne(executor: SqlExecutor, row: OutboxRow, slot: number, what: string): Promise<void> {
    let result: SqlResult;
    try {
      result = await executor.query(this.#oneSql, [...rowParams(row), slot]);
    } catch (cause) {
      throw mysqlDatabaseError(cause, what);
    }
    // No key_lock row (a hand-damaged table) would insert nothing: never lose an event silently.
    if (result.affectedRows !== undefined && result.affectedRows !== 1) {
      throw new HeraldError(ErrorCodes.NOT_MIGRATED, `${what}: the key_lock table is incomplete; run 'herald migrate' again`);
    }
  }

  /** Validates every input first, then appends them all in `tx` with one INSERT, in the given order; all or none. */
  async appendMany(tx: unknown, inputs: readonly AppendInput[]): Promise<HeraldEvent[]> {
    const executor = executorFor(tx, 'mysql');
    if (inputs.length === 0) return [];
    const rows = inputs.map((input) => this.#rows.build(input));
    const slots = [...new Set(rows.map((r) => keyLockSlot(r.row.partition_key)))].sort((a, b) => a - b);
    const what = `cannot append ${rows.length} event(s) to the outbox`;
    if (rows.length === 1 && executor.inTransactionNow?.() === true) {
      await this.#appendOne(executor, rows[0]!.row, slots[0]!, what);
      return [rows[0]!.event];
    }
    let lock: SqlResult;
    try {
      lock = await executor.query(`UPDATE ${this.#names.keyLock} SET n = n WHERE slot IN (${slots.map(() => '?').join(', ')})`, slots);
    } catch (cause) {
      throw mysqlDatabaseError(cause, what);
    }
    checkInTransaction(executor, lock);
    try {
      await executor.query(
        `INSERT INTO ${this.#names.outbox} (${COLUMNS}) VALUES ${rows.map(() => ROW_PLACEHOLDERS).join(', ')}`,
        rows.flatMap((r) => rowParams(r.row)),
      );
    } catch (cause) {
      throw mysqlDatabaseError(cause, what);
    }
    return rows.map((r) => r.event);
  }
}

/**
 * The one-statement append of a single event, used when the data layer already knows the session
 * is in a transaction: `INSERT … SELECT … FROM key_lock WHERE slot = ? FOR UPDATE`. The SELECT
 * takes the slot's exclusive row lock (waiting for another transaction of the key) before the
 * row is written, and InnoDB gives the AUTO_INCREMENT id only when the row is written, so the
 * rule is the same as with the separate UPDATE, one round trip shorter. With one source row the
 * wait happens before the statement holds the table's AUTO-INC lock (lock mode 1), so it never
 * blocks other appends; multi-slot appends keep the two statements for that reason.
 */
function appendOneSql(n: MysqlNames): string {
  return `INSERT INTO ${n.outbox} (${COLUMNS}) SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM ${n.keyLock} WHERE slot = ? FOR UPDATE`;
}

/**
 * Proof that a statement (the lock UPDATE) ran inside a transaction: the OK packet's
 * `SERVER_STATUS_IN_TRANS`, or an adapter that proved the transaction from the handle's type.
 * Without either, the lock would have been released at once (autocommit) and the INSERT
 * committed on its own: throws `TRANSACTION_REQUIRED`.
 */
export function checkInTransaction(executor: SqlExecutor, lock: SqlResult): void {
  const inTransaction =
    typeof lock.serverStatus === 'number' ? (lock.serverStatus & SERVER_STATUS_IN_TRANS) !== 0 : executor.inTransaction === true;
  if (!inTransaction) {
    throw new HeraldError(
      ErrorCodes.TRANSACTION_REQUIRED,
      typeof lock.serverStatus === 'number'
        ? 'the mysql connection is not inside a transaction (autocommit): call await conn.beginTransaction() first, so that the event commits with your change; nothing was written'
        : 'cannot tell whether the mysql handle is inside a transaction (its data layer reports no server status); pass a mysql2 connection after beginTransaction(); nothing was written',
    );
  }
}
