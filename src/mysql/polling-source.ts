import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { HeraldError, ErrorCodes } from '../errors.js';
import { silentLogger, type Logger } from '../observe/logger.js';
import { fairShare } from '../relay/fair-share.js';
import { recordFromRow } from '../relay/outbox-record.js';
import { LeaseBook, leaseLost, leaseOfRecord } from '../relay/lease-book.js';
import type { LeaseFencing, RelayRecord, RelaySource, SourceOwnership } from '../relay/source.js';
import { waitUntilWoken } from '../relay/wake.js';
import { checkMysqlUrl } from './connect.js';
import { mysqlNames, NOW, type MysqlNames, type MysqlOutboxSchemaOptions } from './schema.js';
import { MysqlSession } from './session.js';

/** Options of {@link MysqlPollingSource}. Defaults are in {@link mysqlPollingDefaults}. */
export interface MysqlPollingSourceOptions extends MysqlOutboxSchemaOptions {
  /** `mysql://` or `mariadb://` URL of the server that holds the outbox. */
  readonly database: string;
  /** How long a relay owns its buckets without renewing, in ms; renewed every third of it. Default 15000. */
  readonly leaseMs?: number;
  readonly logger?: Logger;
}

/** The defaults of {@link MysqlPollingSourceOptions}, in one table. */
export const mysqlPollingDefaults = { leaseMs: 15_000 } as const;

/** `?, ?, ?` for a list. */
const marks = (xs: readonly unknown[]): string => xs.map(() => '?').join(', ');

/**
 * Reads the MySQL outbox table by polling (MySQL has no LISTEN/NOTIFY; the relay's poll interval
 * bounds the latency), with the same leased buckets as PostgreSQL's polling source.
 *
 * Order with several relays: rows hash into buckets by partition key (a generated column), each
 * bucket is leased to one relay at a time (fair shares, rebalanced as relays come and go), and a
 * relay reads its buckets in id order, which the writer's key locks make commit order per key.
 * A key with a pending retry is skipped whole. No row lock is held while the broker is called:
 * reads are plain autocommit SELECTs and ownership is the lease's expiry, renewed between
 * batches. Rows are deleted only after the broker acknowledged them (at least once).
 */
export class MysqlPollingSource implements RelaySource {
  readonly name = 'polling';
  readonly #names: MysqlNames;
  readonly #leaseMs: number;
  readonly #log: Logger;
  readonly #id = randomUUID();
  readonly #db: MysqlSession;
  readonly #leases: LeaseBook;
  #buckets: number | undefined;
  #wake: (() => void) | undefined;

  constructor(options: MysqlPollingSourceOptions) {
    checkMysqlUrl(options.database);
    this.#names = mysqlNames(options);
    this.#leaseMs = options.leaseMs ?? mysqlPollingDefaults.leaseMs;
    const database = options.schema ?? 'herald';
    this.#leases = new LeaseBook(this.#leaseMs, (owner) => `herald-${database}-${owner}`);
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
    this.#db = new MysqlSession(options.database);
  }

  /** This relay instance's id, as recorded in `relay_instance` and `relay_lease`. */
  get instanceId(): string {
    return this.#id;
  }

  /** The server's id of this relay's connection (`CONNECTION_ID()`, shown in `SHOW PROCESSLIST`), while connected. */
  get connectionId(): number | undefined {
    return this.#db.threadId;
  }

  /** The buckets this relay leases now (renewed between batches); no I/O. */
  ownership(): SourceOwnership {
    const leased = this.#leases.heldCount;
    return { held: leased > 0, leasedBuckets: leased };
  }

  /** Connects and reads the bucket count; rejects with a clear error when the server is unreachable or not migrated. */
  async start(): Promise<void> {
    await this.#bucketCount();
  }

  async next(max: number): Promise<RelayRecord[]> {
    if (this.#leases.renewDue) await this.#rebalance();
    // Never start a batch on a lease that could run out while the broker is called.
    if (!this.#leases.roomForBatch) return [];
    return this.#read(max, []);
  }

  /**
   * The rows `next` would read once `inFlight` is deleted, read now, while `inFlight` is being
   * published. Empty when the leases are due for renewal (renewing may release a bucket that has
   * rows in flight) or have too little time left: the relay then records `inFlight` and calls
   * `next`, which renews. Excluding `inFlight` by id keeps each key in order, since the outbox
   * gives ids in commit order per key.
   */
  async readAhead(max: number, inFlight: readonly RelayRecord[]): Promise<RelayRecord[]> {
    if (this.#leases.renewDue || !this.#leases.roomForBatch) return [];
    return this.#read(
      max,
      inFlight.map((r) => r.position),
    );
  }

  /** Up to `max` rows of the held buckets in id order, except `excluded` ids and keys waiting for a retry. */
  async #read(max: number, excluded: readonly string[]): Promise<RelayRecord[]> {
    const owned = this.#leases.buckets;
    const n = this.#names;
    // The anti-join uses the retry_at index: rows waiting for a retry are few, so it is cheap.
    const { rows } = await this.#db.query(
      `SELECT CAST(o.id AS CHAR) AS id, o.bucket, o.event_id, o.topic, o.partition_key, o.type, o.source, o.subject, o.time,
          o.dataschema, o.traceparent, CAST(o.data AS CHAR) AS data, o.attempts
        FROM ${n.outbox} o
        WHERE o.bucket IN (${marks(owned)})${excluded.length > 0 ? ` AND o.id NOT IN (${marks(excluded)})` : ''}
          AND o.partition_key NOT IN (SELECT r.partition_key FROM ${n.outbox} r WHERE r.retry_at > ${NOW})
        ORDER BY o.id LIMIT ${Math.max(1, Math.floor(max))}`,
      [...owned, ...excluded],
      'cannot read the outbox',
      // A read ahead's text varies with the batch's length: unprepared, as the DELETE of a batch.
      { prepare: excluded.length === 0 },
    );
    return rows.map((row) => ({ ...recordFromRow(row), lease: this.#leases.heldToken(Number(row.bucket)) }));
  }

  /** Throws `LEASE_LOST` when, by the local clock, the records' leases may have moved on. */
  checkLease(records: readonly RelayRecord[]): void {
    this.#leases.check(records);
  }

  /** Rejects with `LEASE_LOST` unless the database still has these records' leases as read. */
  async confirmLease(records: readonly RelayRecord[]): Promise<void> {
    if ((await this.#moved(records)) > 0) this.#fencedOut(`cannot publish ${records.length} event(s)`);
  }

  /**
   * This relay's producer identity (`herald-<database>-<instance id>`) and the owners whose
   * expired leases its last claim took over. Unlike PostgreSQL's, the list is kept in memory only:
   * a relay that dies before its first publish does not pass it on.
   */
  fencing(): LeaseFencing {
    return this.#leases.fencing(this.#id);
  }

  async fenced(previous: readonly string[]): Promise<void> {
    this.#leases.fenced(previous);
  }

  async waitForWork(ms: number, signal: AbortSignal): Promise<void> {
    await waitUntilWoken(ms, signal, (wake) => (this.#wake = wake));
  }

  /**
   * Deletes the records whose bucket is still owned by this relay with the epoch they were read
   * under, in one statement (a subquery on the lease); rejects with `LEASE_LOST` when any was not.
   */
  async delivered(records: readonly RelayRecord[]): Promise<void> {
    if (records.length === 0) return;
    const n = this.#names;
    const { held, params } = this.#heldClause(records);
    const { affectedRows } = await this.#db.query(
      `DELETE FROM ${n.outbox} WHERE id IN (${marks(records)})
        AND bucket IN (SELECT l.bucket FROM ${n.lease} l WHERE l.owner = ? AND ${held})`,
      [...records.map((r) => r.position), this.#id, ...params],
      'cannot mark events delivered',
      { prepare: false },
    );
    if (affectedRows < records.length && (await this.#moved(records)) > 0)
      this.#fencedOut(`cannot mark ${records.length - affectedRows} of ${records.length} event(s) delivered`, affectedRows);
  }

  async retryLater(record: RelayRecord, error: string, delayMs: number): Promise<void> {
    const n = this.#names;
    const { held, params } = this.#heldClause([record]);
    const { affectedRows } = await this.#db.query(
      `UPDATE ${n.outbox} SET attempts = attempts + 1, last_error = ?, retry_at = ${NOW} + INTERVAL ? MICROSECOND
        WHERE id = ? AND bucket IN (SELECT l.bucket FROM ${n.lease} l WHERE l.owner = ? AND ${held})`,
      [error, Math.round(delayMs) * 1000, record.position, this.#id, ...params],
      'cannot schedule a retry',
      { prepare: false },
    );
    if (affectedRows === 0 && (await this.#moved([record])) > 0)
      this.#fencedOut(`cannot schedule a retry of event ${record.outgoing.event.id}`);
  }

  /** Moves the row to `dead_letter` and deletes it from the outbox, in one transaction. */
  async deadLetter(record: RelayRecord, error: string): Promise<void> {
    const n = this.#names;
    const token = leaseOfRecord(record);
    await this.#db.transaction('cannot move an event to the dead-letter table', async (run) => {
      // The lease row is locked for the transaction, so that no claim changes it in between.
      const held = await run(`SELECT 1 FROM ${n.lease} WHERE bucket = ? AND owner = ? AND epoch = ? FOR UPDATE`, [
        token.bucket,
        this.#id,
        token.epoch,
      ]);
      if (held.rows.length === 0) this.#fencedOut(`cannot move event ${record.outgoing.event.id} to the dead-letter table`);
      await run(
        `INSERT INTO ${n.deadLetter} (id, event_id, topic, partition_key, type, source, subject, time, dataschema, traceparent, data, created_at, attempts, last_error)
         SELECT id, event_id, topic, partition_key, type, source, subject, time, dataschema, traceparent, data, created_at, attempts + 1, ?
         FROM ${n.outbox} WHERE id = ?`,
        [error, record.position],
      );
      await run(`DELETE FROM ${n.outbox} WHERE id = ?`, [record.position]);
    });
  }

  /** Releases this relay's buckets so that others take them over at once, then disconnects. */
  async close(): Promise<void> {
    if (this.#db.current) {
      await this.#db
        .query(`UPDATE ${this.#names.lease} SET owner = NULL, expires_at = NULL WHERE owner = ?`, [this.#id], 'release')
        .catch(() => undefined);
      await this.#db.query(`DELETE FROM ${this.#names.relays} WHERE id = ?`, [this.#id], 'unregister').catch(() => undefined);
    }
    await this.#db.close();
    this.#wake?.();
  }

  /**
   * Registers this relay, computes its fair share of buckets from the live relays (sorted by id,
   * bucket b goes to relay b mod n), gives back buckets outside its share and claims free or
   * expired ones inside it. Called between batches only, so a released bucket has nothing in
   * flight here. Each statement commits on its own; the claim's WHERE makes it safe against a
   * concurrent claim by another relay.
   */
  async #rebalance(): Promise<void> {
    const n = this.#names;
    const ttlUs = this.#leaseMs * 1000;
    await this.#db.query(
      `INSERT INTO ${n.relays} (id, host, pid, started_at, seen_at) VALUES (?, ?, ?, ${NOW}, ${NOW})
       ON DUPLICATE KEY UPDATE seen_at = ${NOW}`,
      [this.#id, hostname(), process.pid],
      'cannot register the relay',
    );
    await this.#db.query(
      `DELETE FROM ${n.relays} WHERE seen_at < ${NOW} - INTERVAL ? MICROSECOND AND id <> ?`,
      [2 * ttlUs, this.#id],
      'cannot register the relay',
    );
    const { rows: live } = await this.#db.query(
      `SELECT id FROM ${n.relays} WHERE seen_at > ${NOW} - INTERVAL ? MICROSECOND OR id = ?`,
      [ttlUs, this.#id],
      'cannot register the relay',
    );
    const buckets = await this.#bucketCount();
    const { relays, mine } = fairShare(
      live.map((r) => String(r.id)),
      this.#id,
      buckets,
    );
    await this.#db.query(
      `UPDATE ${n.lease} SET owner = NULL, expires_at = NULL WHERE owner = ?${mine.length ? ` AND bucket NOT IN (${marks(mine)})` : ''}`,
      [this.#id, ...mine],
      'cannot release buckets',
      { prepare: false },
    );
    const askedAt = this.#leases.askedAt();
    let claimed: { bucket: number; epoch: string; staleOwners: string[] }[] = [];
    if (mine.length > 0) {
      // The owners whose expired leases this claim may take over, to be fenced at the broker.
      const { rows: expired } = await this.#db.query(
        `SELECT bucket, owner FROM ${n.lease} WHERE bucket IN (${marks(mine)}) AND owner IS NOT NULL AND owner <> ? AND expires_at < ${NOW}`,
        [...mine, this.#id],
        'cannot claim buckets',
        { prepare: false },
      );
      const staleOf = new Map(expired.map((r) => [Number(r.bucket), String(r.owner)]));
      // Assignments run left to right: `epoch` compares with the owner before it is replaced.
      await this.#db
        .query(
          `UPDATE ${n.lease} SET epoch = IF(owner <=> ?, epoch, epoch + 1), owner = ?, expires_at = ${NOW} + INTERVAL ? MICROSECOND
          WHERE bucket IN (${marks(mine)}) AND (owner IS NULL OR owner = ? OR expires_at < ${NOW})`,
          [this.#id, this.#id, ttlUs, ...mine, this.#id],
          'cannot claim buckets',
          { prepare: false },
        )
        .catch((err: unknown) => {
          if (err instanceof HeraldError && /unknown column 'epoch'/i.test(err.message))
            throw new HeraldError(
              ErrorCodes.NOT_MIGRATED,
              "the outbox predates lease epochs (fencing); run 'herald migrate' to upgrade it",
              { cause: err },
            );
          throw err;
        });
      // MySQL has no UPDATE ... RETURNING: read back what this relay now holds.
      const { rows } = await this.#db.query(
        `SELECT bucket, CAST(epoch AS CHAR) AS epoch FROM ${n.lease} WHERE owner = ? AND expires_at > ${NOW}`,
        [this.#id],
        'cannot claim buckets',
      );
      claimed = rows.map((r) => {
        const bucket = Number(r.bucket);
        const stale = staleOf.get(bucket);
        return { bucket, epoch: String(r.epoch), staleOwners: stale === undefined ? [] : [stale] };
      });
    }
    const before = this.#leases.buckets.join();
    this.#leases.renewed(claimed, askedAt);
    const owned = this.#leases.buckets;
    if (owned.join() !== before) this.#log.info('relay buckets changed', { relays, owned: owned.length, of: buckets });
  }

  /** `(l.bucket, l.epoch) IN (...)` for the records' tokens, with its parameters. */
  #heldClause(records: readonly RelayRecord[]): { held: string; params: unknown[] } {
    const tokens = [...new Map(records.map((r) => leaseOfRecord(r)).map((t) => [t.bucket, t])).values()];
    return {
      held: `(l.bucket, l.epoch) IN (${tokens.map(() => '(?, ?)').join(', ')})`,
      params: tokens.flatMap((t) => [t.bucket, t.epoch]),
    };
  }

  /** How many of the records' leases are no longer held by this relay with their epoch. */
  async #moved(records: readonly RelayRecord[]): Promise<number> {
    const tokens = [...new Map(records.map((r) => leaseOfRecord(r)).map((t) => [t.bucket, t])).values()];
    const { rows } = await this.#db.query(
      `SELECT bucket, CAST(epoch AS CHAR) AS epoch FROM ${this.#names.lease} WHERE owner = ? AND bucket IN (${marks(tokens)})`,
      [this.#id, ...tokens.map((t) => t.bucket)],
      'cannot confirm the lease',
      { prepare: false },
    );
    const now = new Map(rows.map((r) => [Number(r.bucket), String(r.epoch)]));
    return tokens.filter((t) => now.get(t.bucket) !== t.epoch).length;
  }

  /** Forgets the leases (the next read rebalances) and throws `LEASE_LOST`. */
  #fencedOut(what: string, recorded = 0): never {
    this.#leases.lost();
    throw leaseLost(
      `${what}: this relay no longer holds the lease it read them under (it stalled past it); another relay delivers them now`,
      recorded,
    );
  }

  async #bucketCount(): Promise<number> {
    if (this.#buckets === undefined) {
      const { rows } = await this.#db.query(
        `SELECT value FROM ${this.#names.meta} WHERE \`key\` = 'buckets'`,
        [],
        'cannot read the outbox settings',
      );
      if (rows.length === 0) throw new HeraldError(ErrorCodes.NOT_MIGRATED, "the outbox is not set up; run 'herald migrate' first");
      this.#buckets = Number(rows[0]!.value);
    }
    return this.#buckets;
  }
}
