import { HeraldError, ErrorCodes, messageOf } from '../errors.js';
import { silentLogger, type Logger } from '../observe/logger.js';
import { logicalNames, slotInvalidated, type LogicalNames, type LogicalNamesOptions } from './logical-setup.js';
import { outboxNames, type OutboxNames } from './schema.js';
import { decodeWalMessage } from './wal-message.js';
import { formatLsn, parseLsn, type Lsn } from './lsn.js';
import { decodePgOutput, type RelationColumn, type StreamMessage } from './pgoutput.js';
import { openReplicationStream, type ReplicationStream } from './replication-stream.js';
import { PgSession } from './session.js';
import { preparedStatementName } from './statement-name.js';
import { isLoginRefused, loginRefusedMidRun } from './connect.js';
import { outboxIds, outboxXids, streamRecord, type Entry, type ParkedEntry, type SeenCommit, type StreamEntry } from './logical-entries.js';
import { deliveredSql, EVENT_FIELDS, heartbeatPrefix, parkRow, resolveSql, type ParkRow } from './logical-statements.js';
import { recordFromRow } from '../relay/outbox-record.js';
import { waitUntilWoken } from '../relay/wake.js';
import { leaseLost } from '../relay/lease-book.js';
import type { LeaseFencing, RelayRecord, RelaySource, SourceOwnership } from '../relay/source.js';

/** Options of {@link LogicalSource}. Defaults are in {@link logicalDefaults}. */
export interface LogicalSourceOptions extends LogicalNamesOptions {
  /** `postgres://` URL of the database; its role needs `REPLICATION` (see `relayGrants`). */
  readonly database: string;
  /** When nothing arrived for this long, write a heartbeat into the WAL so the slot advances, in ms. Default 10000. */
  readonly heartbeatMs?: number;
  /** Most decoded events held in memory; reading from the server pauses above it. Default 5000. */
  readonly maxBufferedEvents?: number;
  readonly logger?: Logger;
}

/** The defaults of {@link LogicalSourceOptions}, in one table. */
export const logicalDefaults = { heartbeatMs: 10_000, maxBufferedEvents: 5_000 } as const;

/** Counters of a {@link LogicalSource}. */
export interface LogicalSourceStats {
  /** Events the server sent again after a restart that were already delivered, skipped. */
  replaySkipped: number;
  /** Events held back behind a failed event of their key. */
  parked: number;
  heartbeats: number;
  /** The most events ever buffered in memory at once. */
  maxBuffered: number;
  /** Messages with the outbox prefix that are not Herald events (logged, not delivered). */
  malformed: number;
  /** Times the replication stream was opened. */
  streams: number;
  /**
   * Times a recording found a transaction that the stream had sent but that was not visible
   * yet (its rows could not be deleted), and was run again a moment later.
   */
  notYetVisible: number;
}

/**
 * Reads the outbox from PostgreSQL logical replication (`pgoutput`) through a permanent slot:
 * the inserts of the outbox table, and transactional `pg_logical_emit_message` events of the
 * WAL-message outbox. The stream is in commit order, so per-key order needs no locks.
 *
 * Position: after each delivery the source records, in `relay_progress` and in the same
 * statement that deletes the delivered outbox rows, the last delivered event as (commit LSN,
 * index in its transaction). After a restart the server replays every transaction after the
 * slot's confirmed position; the events already recorded are skipped, even inside a large
 * transaction, so a clean restart replays nothing and a crash replays at most the batch in flight.
 * The slot's position is confirmed only up to the end of transactions all of whose events are
 * recorded, and a transaction is recorded only once its commit is visible, so that its rows are
 * really deleted: the server streams a transaction as soon as its commit is in the WAL, a moment
 * before other sessions can see it (see `#runRecording`). When idle, keepalives and heartbeats
 * move the slot forward so no WAL piles up.
 *
 * A refused event, and the later events of its key, are moved to `relay_parked` and delivered
 * from there in order, so one failing key never blocks the stream. Memory is bounded: reading
 * from the server pauses while `maxBufferedEvents` decoded events wait.
 */
export class LogicalSource implements RelaySource {
  readonly name = 'logical';
  readonly stats: LogicalSourceStats = {
    replaySkipped: 0,
    parked: 0,
    heartbeats: 0,
    maxBuffered: 0,
    malformed: 0,
    streams: 0,
    notYetVisible: 0,
  };
  readonly #n: OutboxNames;
  readonly #names: LogicalNames;
  readonly #schemaName: string;
  readonly #url: string;
  readonly #log: Logger;
  readonly #heartbeatMs: number;
  /** The two recording statements, built once. */
  readonly #deliveredSql: string;
  readonly #deliveredName: string;
  readonly #resolveSql: string;
  readonly #maxBuffered: number;
  readonly #db: PgSession;
  #stream: ReplicationStream | undefined;
  #streamError: unknown;
  #paused = false;
  readonly #buffer: StreamEntry[] = [];
  #pending: StreamEntry[] = [];
  /** Stream events handed out and not yet resolved, by record. */
  readonly #entries = new Map<RelayRecord, StreamEntry>();
  /** Parked events of the batch in flight, by record; replaced on every `next()`. */
  #parkedHanded = new Map<RelayRecord, ParkedEntry>();
  #txn: { finalLsn: Lsn; index: number; commitTime: Date; xid: number } | undefined;
  #commits: SeenCommit[] = [];
  #seq = 0;
  #resolvedSeq = 0;
  #recording: Promise<void> = Promise.resolve();
  #recordingError: unknown;
  #confirmed: Lsn = 0n;
  #sentConfirmed: Lsn = 0n;
  #sentAt = 0;
  #replayFrom = { commitLsn: 0n, done: 0 };
  #outboxRelation: { oid: number; columns: Map<string, RelationColumn & { index: number }> } | undefined;
  readonly #held = new Set<string>();
  #parkedCheckAt = 0;
  #lastActivity = Date.now();
  #timer: NodeJS.Timeout | undefined;
  #wake: (() => void) | undefined;
  #closed = false;
  /** The Kafka transactional id of whoever streams this slot of this outbox; see {@link fencing}. */
  #identity: string | undefined;

  constructor(options: LogicalSourceOptions) {
    this.#n = outboxNames(options);
    this.#names = logicalNames(options);
    this.#schemaName = options.schema ?? 'herald';
    this.#url = options.database;
    this.#db = new PgSession(options.database, 'herald-relay');
    this.#log = options.logger ?? silentLogger;
    this.#heartbeatMs = positive(options.heartbeatMs ?? logicalDefaults.heartbeatMs, 'heartbeatMs');
    this.#maxBuffered = positive(options.maxBufferedEvents ?? logicalDefaults.maxBufferedEvents, 'maxBufferedEvents');
    this.#deliveredSql = deliveredSql(this.#n);
    this.#deliveredName = preparedStatementName('herald_delivered_', this.#deliveredSql);
    this.#resolveSql = resolveSql(this.#n);
  }

  /** The replication slot this source streams. */
  get slot(): string {
    return this.#names.slot;
  }

  /** Whether this source streams its slot now (open, not failed, not closed); no I/O. */
  ownership(): SourceOwnership {
    return { held: this.#stream !== undefined && this.#streamError === undefined && !this.#closed, slot: this.#names.slot };
  }

  /**
   * Fencing: the producer identity belongs to the slot (and this outbox), not to the process, so
   * the next relay that streams the slot fences the previous one at the broker just by starting
   * its producer. There are no previous owners to name. Undefined before `start()`, or when the
   * outbox predates outbox ids (then the publisher fences nothing).
   */
  fencing(): LeaseFencing | undefined {
    return this.#identity === undefined ? undefined : { identity: this.#identity, previous: [] };
  }

  /**
   * Rejects with `LEASE_LOST` unless the slot is streamed by this source's replication connection
   * now. Called after the publisher started a new producer session: a relay that stalled until
   * PostgreSQL dropped its walsender (`wal_sender_timeout`) and another relay took the slot must
   * not fence that relay back and publish what it had read.
   */
  async confirmLease(): Promise<void> {
    const stream = this.#stream;
    const { rows } = await this.#db.query(
      `SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1`,
      [this.#names.slot],
      'cannot read the replication slot',
    );
    if (stream !== undefined && rows[0]?.active_pid === stream.pid) return;
    throw leaseLost(`cannot publish from replication slot '${this.#names.slot}': another relay streams it now (or none does)`);
  }

  /** Checks the slot (missing or invalidated: a clear error) and loads the recorded position. */
  async start(): Promise<void> {
    const { rows } = await this.#db.query(
      `SELECT wal_status, confirmed_flush_lsn::text AS confirmed FROM pg_replication_slots WHERE slot_name = $1`,
      [this.#names.slot],
      'cannot read the replication slot',
    );
    if (rows.length === 0) {
      throw new HeraldError(
        ErrorCodes.NOT_MIGRATED,
        `replication slot '${this.#names.slot}' does not exist: run 'herald migrate --source logical'`,
        { details: { slot: this.#names.slot } },
      );
    }
    if (rows[0]!.wal_status === 'lost') throw slotInvalidated(this.#names.slot);
    if (rows[0]!.confirmed) this.#confirmed = this.#sentConfirmed = parseLsn(rows[0]!.confirmed as string);
    await this.#loadIdentity();
    await this.#loadState();
    this.#timer = setInterval(() => this.#tick(), 250);
    this.#timer.unref();
  }

  async next(max: number): Promise<RelayRecord[]> {
    await this.#ensureStream();
    this.#throwRecordingError();
    this.#parkedHanded = new Map();
    // Events of the previous batch that were neither delivered nor failed (the broker went away,
    // or an earlier event of their key failed): hand them out again, or park them behind their key.
    const again = this.#pending.filter((e) => !e.resolved);
    if (again.length > 0) {
      const held = again.filter((e) => this.#held.has(e.key));
      if (held.length > 0) await this.#resolve(held, { park: held.map((e) => parkRow(e.record)) });
      const rest = again.filter((e) => !e.resolved);
      if (rest.length > 0) return rest.slice(0, max).map((e) => e.record);
    }
    const out: Entry[] = [];
    if (this.#held.size > 0 && Date.now() >= this.#parkedCheckAt) out.push(...(await this.#dueParked(max)));
    const toPark: StreamEntry[] = [];
    while (out.length < max && this.#buffer.length > 0) {
      const e = this.#buffer.shift()!;
      this.#pending.push(e);
      this.#entries.set(e.record, e);
      (this.#held.has(e.key) ? toPark : out).push(e);
    }
    if (toPark.length > 0) await this.#resolve(toPark, { park: toPark.map((e) => parkRow(e.record)) });
    if (this.#paused && this.#buffer.length <= this.#maxBuffered / 2) {
      this.#paused = false;
      this.#stream?.resume();
    }
    return out.map((e) => e.record);
  }

  async waitForWork(ms: number, signal: AbortSignal): Promise<void> {
    if (this.#buffer.length > 0 || this.#streamError !== undefined) return;
    // Parked events become due by time, not by a message: look again soon while there are any.
    await waitUntilWoken(this.#held.size > 0 ? Math.min(ms, 250) : ms, signal, (wake) => (this.#wake = wake));
  }

  async delivered(records: readonly RelayRecord[]): Promise<void> {
    const { stream, parked } = this.#split(records);
    if (parked.length > 0) {
      await this.#db.query(
        `DELETE FROM ${this.#n.parked} WHERE id = ANY($1::bigint[])`,
        [parked.map((e) => e.record.position)],
        'cannot mark parked events delivered',
      );
      await this.#releaseKeys(parked.map((e) => e.key));
    }
    // Recorded in the background while the relay publishes the next batch.
    if (stream.length > 0) await this.#record(stream, {});
  }

  async retryLater(record: RelayRecord, error: string, delayMs: number): Promise<void> {
    const entry = this.#entry(record);
    if (entry.origin === 'parked') {
      await this.#db.query(
        `UPDATE ${this.#n.parked} SET attempts = attempts + 1, last_error = $2, retry_at = now() + $3 * interval '1 millisecond' WHERE id = $1`,
        [record.position, error, delayMs],
        'cannot schedule a retry',
      );
      return;
    }
    await this.#resolve([entry], { park: [parkRow(record, { attempts: record.attempts + 1, delayMs, error })] });
  }

  async deadLetter(record: RelayRecord, error: string): Promise<void> {
    const entry = this.#entry(record);
    const n = this.#n;
    if (entry.origin === 'parked') {
      await this.#db.query(
        `WITH moved AS (DELETE FROM ${n.parked} WHERE id = $1 RETURNING *)
         INSERT INTO ${n.deadLetter} (id, ${EVENT_FIELDS}, created_at, attempts, last_error)
         SELECT id, ${EVENT_FIELDS}, created_at, attempts + 1, $2 FROM moved`,
        [record.position, error],
        'cannot move an event to the dead-letter table',
      );
      await this.#releaseKeys([entry.key]);
      return;
    }
    await this.#resolve([entry], { dead: [parkRow(record, { attempts: record.attempts + 1, delayMs: 0, error })] });
  }

  /** Confirms the final position, stops streaming and disconnects. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#recording;
    this.#sendStatus(true);
    await this.#stream?.close();
    this.#stream = undefined;
    await this.#db.close();
    this.#wake?.();
  }

  // ---- the stream ----

  async #ensureStream(): Promise<void> {
    if (this.#closed) throw new HeraldError(ErrorCodes.CLOSED, 'the logical source is closed');
    if (this.#streamError !== undefined) {
      const err = this.#streamError;
      await this.#resetStream();
      throw err;
    }
    if (this.#stream) return;
    await this.#loadState();
    const stream = await openReplicationStream({
      database: this.#url,
      slot: this.#names.slot,
      publication: this.#names.publication,
      onMessage: (m) => this.#onMessage(m),
    }).catch((err: unknown) => {
      // A login refused after this source had streamed (the password rotated mid-run): pause
      // with backoff like any outage, instead of exiting.
      if (this.stats.streams > 0 && err instanceof HeraldError && isLoginRefused(err)) {
        throw loginRefusedMidRun(err, `cannot reopen the replication stream of slot '${this.#names.slot}'`);
      }
      throw err;
    });
    this.stats.streams++;
    this.#stream = stream;
    stream.ended.then(
      () => {
        if (this.#stream === stream && !this.#closed) {
          this.#streamError = new HeraldError(ErrorCodes.DATABASE_ERROR, 'the replication stream ended; reconnecting', { retryable: true });
        }
        this.#wake?.();
      },
      (err: unknown) => {
        if (this.#stream === stream) this.#streamError = err;
        this.#wake?.();
      },
    );
    this.#log.info('streaming replication slot', { slot: this.#names.slot, from: formatLsn(this.#confirmed) });
  }

  /**
   * Forgets everything read from a stream that ended. The server sends again whatever the slot
   * has not confirmed, and the recorded position (reloaded on reconnect) skips what was delivered.
   */
  async #resetStream(): Promise<void> {
    const stream = this.#stream;
    this.#stream = undefined;
    this.#streamError = undefined;
    await this.#recording;
    this.#recordingError = undefined;
    await stream?.close();
    this.#buffer.length = 0;
    this.#pending = [];
    this.#entries.clear();
    this.#txn = undefined;
    this.#commits = [];
    this.#paused = false;
    this.#outboxRelation = undefined;
    this.#resolvedSeq = this.#seq;
  }

  #onMessage(m: StreamMessage): void {
    if (m.kind === 'keepalive') {
      // Everything before walEnd was sent; with nothing outstanding the slot may move there.
      if (this.#idle() && m.walEnd > this.#confirmed) this.#confirmed = m.walEnd;
      if (m.replyRequested) this.#sendStatus(true);
      return;
    }
    const msg = decodePgOutput(m.body);
    switch (msg.tag) {
      case 'begin':
        this.#txn = { finalLsn: msg.finalLsn, index: 0, commitTime: msg.commitTime, xid: msg.xid };
        return;
      case 'commit':
        this.#commits.push({ endLsn: msg.endLsn, lastSeq: this.#seq });
        this.#txn = undefined;
        this.#advance();
        return;
      case 'relation':
        if (msg.schema === this.#schemaName && msg.name === 'outbox') {
          this.#outboxRelation = { oid: msg.oid, columns: new Map(msg.columns.map((c, index) => [c.name, { ...c, index }])) };
        }
        return;
      case 'insert':
        if (msg.relation === this.#outboxRelation?.oid) {
          const columns = this.#outboxRelation.columns;
          this.#add(() => streamRecord(msg.values, columns));
        }
        return;
      case 'message':
        if (msg.prefix === this.#n.messagePrefix && msg.transactional) {
          this.#add(() => ({ position: '', attempts: 0, outgoing: decodeWalMessage(msg.content.toString('utf8')), outboxId: undefined }));
        } else if (msg.prefix === heartbeatPrefix(this.#n) && this.#idle() && msg.lsn > this.#confirmed) {
          this.#confirmed = msg.lsn;
        }
        return;
      default:
        return;
    }
  }

  /** Buffers one event of the open transaction, unless the recorded position says it was delivered. */
  #add(build: () => RelayRecord & { outboxId: string | undefined }): void {
    const txn = this.#txn;
    if (!txn) return;
    const index = txn.index++;
    const from = this.#replayFrom;
    if (txn.finalLsn < from.commitLsn || (txn.finalLsn === from.commitLsn && index < from.done)) {
      this.stats.replaySkipped++;
      return;
    }
    let built: RelayRecord & { outboxId: string | undefined };
    try {
      built = build();
    } catch (err) {
      this.stats.malformed++;
      this.#log.error('a replicated outbox event cannot be read; it is not delivered', {
        commitLsn: formatLsn(txn.finalLsn),
        index,
        error: messageOf(err),
      });
      return;
    }
    const { outboxId, ...record } = built;
    const seq = ++this.#seq;
    const position = `${formatLsn(txn.finalLsn)}#${index}`;
    this.#buffer.push({
      origin: 'stream',
      record: { ...record, position },
      key: record.outgoing.event.partitionkey,
      seq,
      commitLsn: txn.finalLsn,
      index,
      commitTime: txn.commitTime,
      xid: txn.xid,
      outboxId,
      resolved: false,
    });
    this.#lastActivity = Date.now();
    if (this.#buffer.length > this.stats.maxBuffered) this.stats.maxBuffered = this.#buffer.length;
    if (!this.#paused && this.#buffer.length >= this.#maxBuffered) {
      this.#paused = true;
      this.#stream?.pause();
    }
    this.#wake?.();
  }

  #idle(): boolean {
    return this.#txn === undefined && this.#buffer.length === 0 && this.#pending.length === 0 && this.#commits.length === 0;
  }

  /** Moves the confirmable position to the end of every transaction whose events are all resolved. */
  #advance(): void {
    while (this.#commits.length > 0 && this.#commits[0]!.lastSeq <= this.#resolvedSeq) this.#confirmed = this.#commits.shift()!.endLsn;
  }

  #sendStatus(force: boolean): void {
    if (!this.#stream || this.#confirmed === 0n) return;
    if (!force && this.#confirmed === this.#sentConfirmed && Date.now() - this.#sentAt < 10_000) return;
    this.#stream.confirm(this.#confirmed);
    this.#sentConfirmed = this.#confirmed;
    this.#sentAt = Date.now();
  }

  /** Every 250 ms: confirm progress, and write a heartbeat into the WAL when idle for a while. */
  #tick(): void {
    this.#sendStatus(false);
    if (!this.#stream || !this.#idle() || Date.now() - this.#lastActivity < this.#heartbeatMs) return;
    this.#lastActivity = Date.now();
    this.#db.query(`SELECT pg_logical_emit_message(false, $1, '')`, [heartbeatPrefix(this.#n)], 'cannot write a heartbeat').then(
      () => this.stats.heartbeats++,
      (err: unknown) => this.#log.warn('cannot write a heartbeat; the slot advances on keepalives only', { error: messageOf(err) }),
    );
  }

  // ---- bookkeeping in the database ----

  /**
   * Records the resolution of stream events in one statement: parks or dead-letters some, deletes
   * their outbox rows, and moves the recorded position to the end of the resolved prefix of the
   * stream (never past an event that is still outstanding).
   */
  async #resolve(entries: StreamEntry[], rows: { park?: ParkRow[]; dead?: ParkRow[] }): Promise<void> {
    await this.#record(entries, rows);
    await this.#recording;
  }

  /**
   * Starts recording the resolution of stream events and resolves once the recording before it is
   * done, so that recording batch N overlaps publishing batch N+1 (the stream position is in
   * memory; nothing is read back). At most two recordings are outstanding. The recorded position
   * only ever covers the resolved prefix of the stream, and the slot is confirmed only after the
   * recording that covers a transaction succeeded. If a recording fails, it and the ones queued
   * behind it are undone in memory (their events are handed out again) and the next call throws.
   */
  async #record(entries: StreamEntry[], rows: { park?: ParkRow[]; dead?: ParkRow[] }): Promise<void> {
    this.#throwRecordingError();
    await this.#recording;
    this.#throwRecordingError();
    for (const e of entries) e.resolved = true;
    let prefix = 0;
    while (prefix < this.#pending.length && this.#pending[prefix]!.resolved) prefix++;
    const last = prefix > 0 ? this.#pending[prefix - 1] : undefined;
    const progress = last && last.seq > this.#resolvedSeq ? last : undefined;
    if (rows.park?.length) {
      for (const e of entries) this.#held.add(e.key);
      this.stats.parked += rows.park.length;
    }
    // Plain deliveries (the hot path) use a prepared statement without the park/dead-letter parts.
    const plain = !rows.park?.length && !rows.dead?.length;
    const xids = outboxXids(entries);
    this.#recording = this.#runRecording(
      plain ? this.#deliveredSql : this.#resolveSql,
      plain
        ? [outboxIds(entries), ...this.#progressParams(progress), xids]
        : [JSON.stringify(rows.park ?? []), JSON.stringify(rows.dead ?? []), outboxIds(entries), ...this.#progressParams(progress), xids],
      plain ? this.#deliveredName : undefined,
    ).then(
      () => {
        if (this.#recordingError !== undefined) return;
        while (this.#pending.length > 0 && last && this.#pending[0]!.seq <= last.seq) this.#entries.delete(this.#pending.shift()!.record);
        for (const e of entries) this.#entries.delete(e.record);
        if (last && last.seq > this.#resolvedSeq) {
          this.#resolvedSeq = last.seq;
          this.#advance();
        }
      },
      (err: unknown) => {
        this.#recordingError ??= err;
        for (const e of this.#pending) if (e.seq > this.#resolvedSeq) e.resolved = false;
      },
    );
  }

  /**
   * Runs one recording statement until it finds every transaction of its events visible (see
   * `unseenSql` in logical-statements.ts: the stream can send a transaction a moment before its
   * commit is visible, and a DELETE in that moment would leave the delivered rows behind for
   * ever). Until then the statement changes nothing, so the recorded position, and with it the
   * slot's confirmed position, never passes a row that is not deleted: this is what keeps
   * delivered rows from staying in the outbox. The wait is usually microseconds; it lasts as long
   * as a synchronous standby takes to answer, and then the relay waits with it (the events were
   * published; only their bookkeeping waits). A source closed meanwhile gives up with a retryable
   * error: the position stays before those events, and the next start sends them again.
   */
  async #runRecording(text: string, params: unknown[], name: string | undefined): Promise<void> {
    const started = Date.now();
    let warned = false;
    for (let attempt = 1; ; attempt++) {
      const { rows } = await this.#db.query(text, params, 'cannot record delivered events', name);
      const unseen = Number(rows[0]?.unseen ?? 0);
      if (unseen === 0) return;
      this.stats.notYetVisible++;
      if (this.#closed) {
        throw new HeraldError(
          ErrorCodes.DATABASE_ERROR,
          `cannot record delivered events: ${unseen} of their transactions (xids ${String(rows[0]!.unseen_xids)}) are committed in the WAL but not visible yet; the relay stopped first, so they are sent again when it starts`,
          { retryable: true, details: { slot: this.#names.slot } },
        );
      }
      if (!warned && Date.now() - started >= VISIBILITY_WARN_MS) {
        warned = true;
        this.#log.warn('delivered events wait for their transactions to become visible before their outbox rows can be deleted', {
          slot: this.#names.slot,
          xids: String(rows[0]!.unseen_xids),
          waitedMs: Date.now() - started,
          hint: 'a commit waiting for a synchronous standby (synchronous_standby_names) is streamed before it is visible',
        });
      }
      await new Promise((r) => setTimeout(r, Math.min(2 ** attempt, VISIBILITY_RETRY_MAX_MS)));
    }
  }

  #throwRecordingError(): void {
    const err = this.#recordingError;
    if (err === undefined) return;
    this.#recordingError = undefined;
    throw err;
  }

  /** Parameters of {@link progressSql}: the slot and the last resolved event's position, or nulls. */
  #progressParams(progress: StreamEntry | undefined): unknown[] {
    return [
      this.#names.slot,
      progress ? formatLsn(progress.commitLsn) : null,
      progress ? progress.index + 1 : null,
      progress?.record.outgoing.event.id ?? null,
      progress?.commitTime.toISOString() ?? null,
    ];
  }

  /** Parked events whose key has no failed event waiting for its retry time, in stream order. */
  async #dueParked(max: number): Promise<ParkedEntry[]> {
    const n = this.#n;
    const { rows } = await this.#db.query(
      `SELECT id::text AS id, event_id::text AS event_id, topic, partition_key, type, source, subject,
          to_json(time) #>> '{}' AS time, dataschema, traceparent, data::text AS data, attempts
        FROM ${n.parked} p
        WHERE NOT EXISTS (SELECT 1 FROM ${n.parked} q WHERE q.partition_key = p.partition_key AND q.retry_at > now())
        ORDER BY p.id LIMIT $1`,
      [max],
      'cannot read parked events',
    );
    // Nothing due: look again in a moment rather than on every batch.
    this.#parkedCheckAt = rows.length < max ? Date.now() + 200 : 0;
    return rows.map((r) => {
      const record = recordFromRow(r);
      const entry: ParkedEntry = { origin: 'parked', record, key: record.outgoing.event.partitionkey };
      this.#parkedHanded.set(entry.record, entry);
      return entry;
    });
  }

  /** Stops holding back the keys that have no parked events left. */
  async #releaseKeys(keys: string[]): Promise<void> {
    const { rows } = await this.#db.query(
      `SELECT DISTINCT partition_key FROM ${this.#n.parked} WHERE partition_key = ANY($1::text[])`,
      [keys],
      'cannot read parked events',
    );
    const still = new Set(rows.map((r) => r.partition_key as string));
    for (const k of keys) if (!still.has(k)) this.#held.delete(k);
    this.#parkedCheckAt = 0;
  }

  /** Reads the outbox id that `herald migrate` records (schema version 3 and later). */
  async #loadIdentity(): Promise<void> {
    const { rows } = await this.#db.query(
      `SELECT value FROM ${this.#n.meta} WHERE key = 'outbox_id'`,
      [],
      'cannot read the outbox settings',
    );
    const id = rows[0]?.value as string | undefined;
    if (id === undefined)
      this.#log.warn("the outbox has no id yet; run 'herald migrate' so that Kafka can fence a stalled relay of this slot");
    this.#identity = id === undefined ? undefined : `herald-slot-${this.#names.slot}-${id}`;
  }

  async #loadState(): Promise<void> {
    const { rows } = await this.#db.query(
      `SELECT commit_lsn::text AS commit_lsn, events_done FROM ${this.#n.progress} WHERE slot = $1`,
      [this.#names.slot],
      'cannot read the relay position',
    );
    if (rows[0]) this.#replayFrom = { commitLsn: parseLsn(rows[0].commit_lsn as string), done: rows[0].events_done as number };
    const held = await this.#db.query(`SELECT DISTINCT partition_key FROM ${this.#n.parked}`, [], 'cannot read parked events');
    this.#held.clear();
    for (const r of held.rows) this.#held.add(r.partition_key as string);
    this.#parkedCheckAt = 0;
  }

  #split(records: readonly RelayRecord[]): { stream: StreamEntry[]; parked: ParkedEntry[] } {
    const stream: StreamEntry[] = [];
    const parked: ParkedEntry[] = [];
    for (const r of records) {
      const e = this.#entry(r);
      (e.origin === 'stream' ? stream : parked).push(e as never);
    }
    return { stream, parked };
  }

  #entry(record: RelayRecord): Entry {
    const e = this.#entries.get(record) ?? this.#parkedHanded.get(record);
    if (!e) throw new HeraldError(ErrorCodes.CONFIG_INVALID, `event ${record.outgoing.event.id} was not handed out by this source`);
    return e;
  }
}

/** Longest pause between two recording attempts while a transaction is not visible yet, in ms. */
const VISIBILITY_RETRY_MAX_MS = 250;
/** After waiting this long for a transaction to become visible, the source logs a warning, in ms. */
const VISIBILITY_WARN_MS = 5_000;

function positive(v: number, option: string): number {
  if (!Number.isInteger(v) || v < 1) {
    throw new HeraldError(ErrorCodes.CONFIG_INVALID, `logical source option '${option}' must be a positive integer, got ${String(v)}`, {
      details: { option },
    });
  }
  return v;
}
