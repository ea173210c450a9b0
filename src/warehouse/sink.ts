import type { LoadBatch } from './rows.js';
import type { TablePlan } from './table-plan.js';

/** What one {@link WarehouseSink.write} did. */
export interface WriteResult {
  /** Rows that are new in their table. */
  readonly inserted: number;
  /** Rows whose event id was already in the table (redeliveries, relay replays): not written again. */
  readonly duplicates: number;
  /** Dead letters that are new in the load dead-letter table. */
  readonly deadLettered: number;
  /** Per table name, the rows new in it and the rows skipped as already loaded (when the sink reports it). */
  readonly tables?: Readonly<Record<string, TableWriteCounts>>;
  /** Per topic, the dead letters new in the dead-letter table (when the sink reports it). */
  readonly deadLetteredByTopic?: Readonly<Record<string, number>>;
}

/** What one write did to one table. */
export interface TableWriteCounts {
  readonly inserted: number;
  readonly duplicates: number;
}

/** Adds `n` to `record[key]` (0 when absent); for the per-table and per-topic counts of a write. */
export function addCount(record: Record<string, number>, key: string, n: number): void {
  record[key] = (record[key] ?? 0) + n;
}

/**
 * The warehouse port: a database that holds one table per contract (see {@link TablePlan}) and
 * the load dead-letter table.
 *
 * - `prepare` creates missing tables and adds the columns of compatible new contract versions
 *   (`ALTER TABLE ... ADD COLUMN`; existing rows are not rewritten). It rejects with
 *   `SCHEMA_INCOMPATIBLE`, naming the contract, table and change, when a table has a column of an
 *   incompatible type. It resolves to the plans as the tables now are (a column the table has but
 *   no contract names is kept, and filled with NULL).
 * - `write` is one transaction: every row and dead letter of the batch, or none. It resolves only
 *   after the commit is durable. A row whose `_event_id` is already in its table is skipped (the
 *   first delivery wins), so writing a batch twice changes nothing.
 * - Rejections are `HeraldError`s: `DATABASE_ERROR` (retryable) when the database failed or is
 *   unreachable; `EVENT_INVALID` (not retryable) when a value of the batch cannot convert, so
 *   the caller can write the rows one by one and dead-letter the one at fault.
 * - `close()` is idempotent.
 */
export interface WarehouseSink {
  /** A short name for logs, e.g. `duckdb`. */
  readonly name: string;
  prepare(plans: readonly TablePlan[]): Promise<TablePlan[]>;
  write(batch: LoadBatch): Promise<WriteResult>;
  close(): Promise<void>;
}

/** The name of the load dead-letter table, in the sink's schema. */
export const deadLetterTable = 'herald_load_dead_letters';

/** A database message with its quoted values replaced: conversion errors quote the payload. */
export function withoutValues(message: string): string {
  return message.replace(/'(?:[^']|'')*'/g, "'…'");
}
