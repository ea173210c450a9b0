import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { HeraldError, ErrorCodes } from '../errors.js';
import { silentLogger, type Logger } from '../observe/logger.js';
import { fairShare } from '../relay/fair-share.js';
import { LeaseBook, leaseLost, leaseOfRecord } from '../relay/lease-book.js';
import { recordFromRow } from '../relay/outbox-record.js';
import type { LeaseFencing, RelayRecord, RelaySource, SourceOwnership } from '../relay/source.js';
import { sqliteLocation, type SqliteDatabase } from './connect.js';
import { NOW_MS, sqliteNames, type SqliteNames, type SqliteOutboxSchemaOptions } from './schema.js';
import { SqliteSession } from './session.js';

/** Options of {@link SqlitePollingSource}. Defaults are in {@link sqlitePollingDefaults}. */
export interface SqlitePollingSourceOptions extends SqliteOutboxSchemaOptions {
  /** `sqlite:path` URL of the file that holds the outbox (`?busy_timeout=ms` to wait longer for locks). */
  readonly database: string;
  /** How long a relay owns its buckets without renewing, in ms; renewed every third of it. Default 15000. */
  readonly leaseMs?: number;
  readonly logger?: Logger;
}

/** The defaults of {@link SqlitePollingSourceOptions}, in one table. */
export const sqlitePollingDefaults = { leaseMs: 15_000 } as const;

/** How often `waitForWork` looks at `PRAGMA data_version` for another connection's commit, in ms. */
const WAKE_CHECK_MS = 25;

const marks = (xs: readonly unknown[]): string => xs.map(() => '?').join(', ');

/**
 * Reads the SQLite outbox by polling, with leased buckets like the MySQL and PostgreSQL polling
 * sources, so several relay processes share one file's outbox.
 *
 * Order: SQLite has a single writer per file, and a write transaction holds the lock from its
 * first write to COMMIT, so outbox ids are handed out in commit order. Rows hash into buckets by
 * partition key (a generated column), each bucket is leased to one relay at a time (fair shares,
 * rebalanced as relays come and go), and a relay reads its buckets in id order: per key,
 * delivery order is commit order. A key with a pending retry is skipped whole.
 *
 * No lock is held while the broker is called: reads are plain SELECTs (WAL: they never block the
 * service's writer) and ownership is the lease's expiry, renewed between batches. Rows are
 * deleted only after the broker acknowledged them (at least once). Between polls the source
 * watches `PRAGMA data_version`, which changes when another connection commits, so a new event
 * is picked up within tens of milliseconds without reading the table.
 */
export class SqlitePollingSource implements RelaySource {
  readonly name = 'polling';
  readonly #names: SqliteNames;
  readonly #leaseMs: number;
  readonly #log: Logger;
  readonly #id = randomUUID();
  readonly #db: SqliteSession;
  readonly #leases: LeaseBook;
  #registered = false;
  #buckets: number | undefined;
  #closed = false;

  constructor(options: SqlitePollingSourceOptions) {
    const location = sqliteLocation(options.database);
    this.#names = sqliteNames(options);
    this.#leaseMs = options.leaseMs ?? sqlitePollingDefaults.leaseMs;
    this.#leases = new LeaseBook(this.#leaseMs, (owner) => `herald-sqlite-${this.#names.prefix}-${owner}`);
    if (!Number.isInteger(this.#leaseMs) || this.#leaseMs < 300) {
      throw new HeraldError(
        ErrorCodes.CONFIG_INVALID,
        `option 'leaseMs' must be an integer of at least 300, got ${String(options.leaseMs)}`,
        {
          details: { option: 'leaseMs' },
        },
      );
    }
    this.#log = options.logger ?? silentLogger;
    this.#db = new SqliteSession(location);
  }

  /** This relay instance's id, as recorded in `relay_instance` and `relay_lease`. */
  get instanceId(): string {
    return this.#id;
  }

  /** Opens the file and reads the bucket count; rejects with a clear error when the file is missing or not migrated. */
  async start(): Promise<void> {
    await this.#bucketCount();
  }

  /** The buckets this relay leases now (renewed between batches); no I/O. */
  ownership(): SourceOwnership {
    const leased = this.#leases.heldCount;
    return { held: leased > 0, leasedBuckets: leased };
  }

  async next(max: number): Promise<RelayRecord[]> {
    if (this.#leases.renewDue) await this.#rebalance();
    // Never start a batch on a lease that could run out while the broker is called.
    if (!this.#leases.roomForBatch) return [];
    const n = this.#names;
    const owned = this.#leases.buckets;
    const rows = await this.#db.read(
      'cannot read the outbox',
      (db) =>
        db
          .prepare(
            `SELECT CAST(o.id AS TEXT) AS id, o.bucket, o.event_id, o.topic, o.partition_key, o.type, o.source, o.subject, o.time,
                o.dataschema, o.traceparent, o.data, o.attempts
             FROM ${n.outbox} o
             WHERE o.bucket IN (${marks(owned)})
               AND o.partition_key NOT IN (SELECT r.partition_key FROM ${n.outbox} r WHERE r.retry_at > ${NOW_MS})
             ORDER BY o.id LIMIT ?`,
          )
          .all(...owned, Math.max(1, Math.floor(max))) as Record<string, unknown>[],
    );
    return rows.map((row) => ({ ...recordFromRow(row), lease: this.#leases.heldToken(Number(row.bucket)) }));
  }

  /** Throws `LEASE_LOST` when, by the local clock, the records' leases may have moved on. */
  checkLease(records: readonly RelayRecord[]): void {
    this.#leases.check(records);
  }

  /** Rejects with `LEASE_LOST` unless the file still has these records' leases as read. */
  async confirmLease(records: readonly RelayRecord[]): Promise<void> {
    await this.#db.read('cannot confirm the lease', (db) => this.#checkHeld(db, records, `cannot publish ${records.length} event(s)`));
  }

  /**
   * This relay's producer identity (`herald-sqlite-<prefix>-<instance id>`) and the owners whose
   * expired leases its claims took over; like MySQL's, the list is kept in memory only.
   */
  fencing(): LeaseFencing {
    return this.#leases.fencing(this.#id);
  }

  async fenced(previous: readonly string[]): Promise<void> {
    this.#leases.fenced(previous);
  }

  async waitForWork(ms: number, signal: AbortSignal): Promise<void> {
    const deadline = Date.now() + ms;
    const version = (): number | undefined =>
      this.#closed ? undefined : (this.#db.connection().pragma('data_version', { simple: true }) as number);
    const start = version();
    while (!signal.aborted && !this.#closed && Date.now() < deadline) {
      await sleep(Math.min(WAKE_CHECK_MS, Math.max(1, deadline - Date.now())));
      if (version() !== start) return;
    }
  }

  /**
   * Deletes the records, in a write transaction that first checks that this relay still holds
   * their buckets with the epochs they were read under; rejects with `LEASE_LOST` (and deletes
   * nothing) when any moved on. The write lock keeps any claim out between check and delete.
   */
  async delivered(records: readonly RelayRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.#db.write('cannot mark events delivered', (db) => {
      this.#checkHeld(db, records, `cannot mark ${records.length} event(s) delivered`);
      db.prepare(`DELETE FROM ${this.#names.outbox} WHERE id IN (${marks(records)})`).run(...records.map((r) => Number(r.position)));
    });
  }

  async retryLater(record: RelayRecord, error: string, delayMs: number): Promise<void> {
    await this.#db.write('cannot schedule a retry', (db) => {
      this.#checkHeld(db, [record], `cannot schedule a retry of event ${record.outgoing.event.id}`);
      db.prepare(`UPDATE ${this.#names.outbox} SET attempts = attempts + 1, last_error = ?, retry_at = ${NOW_MS} + ? WHERE id = ?`).run(
        error,
        Math.round(delayMs),
        Number(record.position),
      );
    });
  }

  /** Moves the row to the dead-letter table and deletes it from the outbox, in one transaction. */
  async deadLetter(record: RelayRecord, error: string): Promise<void> {
    const n = this.#names;
    await this.#db.write('cannot move an event to the dead-letter table', (db) => {
      this.#checkHeld(db, [record], `cannot move event ${record.outgoing.event.id} to the dead-letter table`);
      db.prepare(
        `INSERT INTO ${n.deadLetter} (id, event_id, topic, partition_key, type, source, subject, time, dataschema, traceparent, data, created_at, attempts, last_error)
         SELECT id, event_id, topic, partition_key, type, source, subject, time, dataschema, traceparent, data, created_at, attempts + 1, ?
         FROM ${n.outbox} WHERE id = ?`,
      ).run(error, Number(record.position));
      db.prepare(`DELETE FROM ${n.outbox} WHERE id = ?`).run(Number(record.position));
    });
  }

  /** Releases this relay's buckets so that others take them over at once, then closes the file. */
  async close(): Promise<void> {
    if (this.#closed) return;
    if (this.#registered) {
      await this.#db
        .write('cannot release the buckets', (db) => {
          db.prepare(`UPDATE ${this.#names.lease} SET owner = NULL, expires_at = NULL WHERE owner = ?`).run(this.#id);
          db.prepare(`DELETE FROM ${this.#names.relays} WHERE id = ?`).run(this.#id);
        })
        .catch((err: unknown) => this.#log.warn('relay could not release its buckets; they expire with the lease', { error: String(err) }));
    }
    this.#closed = true;
    this.#db.close();
  }

  /**
   * Registers this relay, computes its fair share of buckets from the live relays (sorted by id,
   * bucket b goes to relay b mod n), gives back buckets outside its share and claims free or
   * expired ones inside it — all in one `BEGIN IMMEDIATE` transaction, so two relays never see a
   * half-done rebalance. Called between batches only, so a released bucket has nothing in flight.
   */
  async #rebalance(): Promise<void> {
    const n = this.#names;
    const ttl = this.#leaseMs;
    const buckets = await this.#bucketCount();
    // Taken before the claim, so this relay's idea of its lease never outlasts the lease itself.
    const askedAt = this.#leases.askedAt();
    const { relays, claimed } = await this.#db.write('cannot claim buckets', (db) => {
      db.prepare(
        `INSERT INTO ${n.relays} (id, host, pid, started_at, seen_at) VALUES (?, ?, ?, ${NOW_MS}, ${NOW_MS})
         ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at`,
      ).run(this.#id, hostname(), process.pid);
      db.prepare(`DELETE FROM ${n.relays} WHERE seen_at < ${NOW_MS} - ? AND id <> ?`).run(2 * ttl, this.#id);
      const live = db.prepare(`SELECT id FROM ${n.relays} WHERE seen_at > ${NOW_MS} - ? OR id = ?`).all(ttl, this.#id) as { id: string }[];
      const { relays, mine } = fairShare(
        live.map((r) => r.id),
        this.#id,
        buckets,
      );
      db.prepare(
        `UPDATE ${n.lease} SET owner = NULL, expires_at = NULL WHERE owner = ?${mine.length ? ` AND bucket NOT IN (${marks(mine)})` : ''}`,
      ).run(this.#id, ...mine);
      if (mine.length === 0) return { relays, claimed: [] };
      // The owners whose expired leases this claim takes over, to be fenced at the broker; read in
      // the same write transaction, so nobody else claims in between.
      const expired = db
        .prepare(
          `SELECT bucket, owner FROM ${n.lease} WHERE bucket IN (${marks(mine)}) AND owner IS NOT NULL AND owner <> ? AND expires_at < ${NOW_MS}`,
        )
        .all(...mine, this.#id) as { bucket: number; owner: string }[];
      const staleOf = new Map(expired.map((r) => [r.bucket, r.owner]));
      // The epoch moves on whenever the owner changes; SET expressions see the row as it was.
      const rows = db
        .prepare(
          `UPDATE ${n.lease} SET epoch = CASE WHEN owner IS ? THEN epoch ELSE epoch + 1 END, owner = ?, expires_at = ${NOW_MS} + ?
           WHERE bucket IN (${marks(mine)}) AND (owner IS NULL OR owner = ? OR expires_at < ${NOW_MS}) RETURNING bucket, CAST(epoch AS TEXT) AS epoch`,
        )
        .all(this.#id, this.#id, ttl, ...mine, this.#id) as { bucket: number; epoch: string }[];
      return {
        relays,
        claimed: rows.map((r) => ({
          bucket: r.bucket,
          epoch: r.epoch,
          staleOwners: staleOf.has(r.bucket) ? [staleOf.get(r.bucket)!] : [],
        })),
      };
    });
    this.#registered = true;
    const before = this.#leases.buckets.join();
    this.#leases.renewed(claimed, askedAt);
    const owned = this.#leases.buckets;
    if (owned.join() !== before) this.#log.info('relay buckets changed', { relays, owned: owned.length, of: buckets });
  }

  /**
   * Throws `LEASE_LOST` (and forgets the leases, so the next read claims afresh) unless this
   * relay still holds the records' buckets with the epochs they were read under.
   */
  #checkHeld(db: SqliteDatabase, records: readonly RelayRecord[], what: string): void {
    const tokens = [...new Map(records.map((r) => leaseOfRecord(r)).map((t) => [t.bucket, t])).values()];
    const rows = db
      .prepare(`SELECT bucket, CAST(epoch AS TEXT) AS epoch FROM ${this.#names.lease} WHERE owner = ? AND bucket IN (${marks(tokens)})`)
      .all(this.#id, ...tokens.map((t) => t.bucket)) as { bucket: number; epoch: string }[];
    const now = new Map(rows.map((r) => [r.bucket, r.epoch]));
    if (tokens.every((t) => now.get(t.bucket) === t.epoch)) return;
    this.#leases.lost();
    throw leaseLost(
      `${what}: this relay no longer holds the lease it read them under (it stalled past it); another relay delivers them now`,
    );
  }

  async #bucketCount(): Promise<number> {
    if (this.#buckets === undefined) {
      const row = await this.#db.read(
        'cannot read the outbox settings',
        (db) => db.prepare(`SELECT value FROM ${this.#names.meta} WHERE key = 'buckets'`).get() as { value: string } | undefined,
      );
      if (row === undefined) throw new HeraldError(ErrorCodes.NOT_MIGRATED, "the outbox is not set up; run 'herald migrate' first");
      this.#buckets = Number(row.value);
    }
    return this.#buckets;
  }
}
