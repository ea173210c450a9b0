/** The events a {@link LogicalSource} holds between reading them and recording their outcome. */
import type { Lsn } from './lsn.js';
import { columnText, type RelationColumn } from './pgoutput.js';
import { recordFromRow } from '../relay/outbox-record.js';
import type { RelayRecord } from '../relay/source.js';

/** An event read from the replication stream. */
export interface StreamEntry {
  readonly origin: 'stream';
  readonly record: RelayRecord;
  readonly key: string;
  /** Stream order of the event, counted by this source. */
  readonly seq: number;
  /** The commit LSN of its transaction, and its index among the transaction's events. */
  readonly commitLsn: Lsn;
  readonly index: number;
  readonly commitTime: Date;
  /** The top-level transaction id (32 bits, from the stream's Begin), whose visibility the delete waits for. */
  readonly xid: number;
  /** The outbox row id (table mode), deleted once the event is delivered. */
  readonly outboxId: string | undefined;
  resolved: boolean;
}

/** An event read from the backlog table `relay_parked`. */
export interface ParkedEntry {
  readonly origin: 'parked';
  readonly record: RelayRecord;
  readonly key: string;
}

/** An event the source handed out, from the stream or from the parked backlog. */
export type Entry = StreamEntry | ParkedEntry;

/** A transaction whose commit was read; its end LSN is confirmed once its events are resolved. */
export interface SeenCommit {
  readonly endLsn: Lsn;
  readonly lastSeq: number;
}

/** The outbox row ids of table-mode events (WAL messages have none). */
export function outboxIds(entries: readonly StreamEntry[]): string[] {
  return entries.flatMap((e) => (e.outboxId === undefined ? [] : [e.outboxId]));
}

/**
 * The distinct transactions of the table-mode events, whose rows the recording deletes (WAL
 * messages have no rows, so their transactions need not be visible).
 */
export function outboxXids(entries: readonly StreamEntry[]): number[] {
  return [...new Set(entries.flatMap((e) => (e.outboxId === undefined ? [] : [e.xid])))];
}

/** A record from a replicated outbox row (values by column position), with its row id. */
export function streamRecord(
  values: (string | Buffer | null)[],
  columns: Map<string, RelationColumn & { index: number }>,
): RelayRecord & { outboxId: string | undefined } {
  const row: Record<string, unknown> = {};
  for (const [name, c] of columns) row[name] = columnText(values[c.index] ?? null, c.typeOid);
  return { ...recordFromRow(row), outboxId: row.id as string };
}
