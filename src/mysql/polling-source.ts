import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { HeraldError, ErrorCodes } from '../errors.js';
import { silentLogger, type Logger } from '../observe/logger.js';
import { fairShare } from '../relay/fair-share.js';
import { recordFromRow } from '../relay/outbox-record.js';
import type { RelayRecord, RelaySource, SourceOwnership } from '../relay/source.js';
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
  #owned: number[] = [];
  #leaseUntil = 0;
  #renewedAt = 0;
  #buckets: number | undefined;
  #wake: (() => void) | undefined;

  constructor(options: MysqlPollingSourceOptions) {
    checkMysqlUrl(options.database);
    this.#names = mysqlNames(options);
    this.#leaseMs = options.leaseMs ?? mysqlPollingDefaults.leaseMs;
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
    const leased = Date.now() < this.#leaseUntil ? this.#owned.length : 0;
    return { held: leased > 0, leasedBuckets: leased };
  }

  /** Connects and reads the bucket count; rejects with a clear error when the server is unreachable or not migrated. */
  async start(): Promise<void> {
    await this.#bucketCount();
  }

  async next(max: number): Promise<RelayRecord[]> {
    if (Date.now() - this.#renewedAt > this.#leaseMs / 3) await this.#rebalance();
    // Never start a batch on a lease that could run out while the broker is called.
    if (this.#owned.length === 0 || Date.now() > this.#leaseUntil - this.#leaseMs / 2) return [];
    const n = this.#names;
    // The anti-join uses the retry_at index: rows waiting for a retry are few, so it is cheap.
    const { rows } = await this.#db.query(
      `SELECT CAST(o.id AS CHAR) AS id, o.event_id, o.topic, o.partition_key, o.type, o.source, o.subject, o.time,
          o.dataschema, o.traceparent, CAST(o.data AS CHAR) AS data, o.attempts
        FROM ${n.outbox} o
        WHERE o.bucket IN (${marks(this.#owned)})
          AND o.partition_key NOT IN (SELECT r.partition_key FROM ${n.outbox} r WHERE r.retry_at > ${NOW})
        ORDER BY o.id LIMIT ${Math.max(1, Math.floor(max))}`,
      this.#owned,
      'cannot read the outbox',
    );
    return rows.map(recordFromRow);
  }

  async waitForWork(ms: number, signal: AbortSignal): Promise<void> {
    await waitUntilWoken(ms, signal, (wake) => (this.#wake = wake));
  }

  async delivered(records: readonly RelayRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.#db.query(
      `DELETE FROM ${this.#names.outbox} WHERE id IN (${marks(records)})`,
      records.map((r) => r.position),
      'cannot mark events delivered',
      { prepare: false },
    );
  }

  async retryLater(record: RelayRecord, error: string, delayMs: number): Promise<void> {
    await this.#db.query(
      `UPDATE ${this.#names.outbox} SET attempts = attempts + 1, last_error = ?, retry_at = ${NOW} + INTERVAL ? MICROSECOND WHERE id = ?`,
      [error, Math.round(delayMs) * 1000, record.position],
      'cannot schedule a retry',
    );
  }

  /** Moves the row to `dead_letter` and deletes it from the outbox, in one transaction. */
  async deadLetter(record: RelayRecord, error: string): Promise<void> {
    const n = this.#names;
    await this.#db.transaction('cannot move an event to the dead-letter table', async (run) => {
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
    let owned: number[] = [];
    if (mine.length > 0) {
      await this.#db.query(
        `UPDATE ${n.lease} SET owner = ?, expires_at = ${NOW} + INTERVAL ? MICROSECOND
          WHERE bucket IN (${marks(mine)}) AND (owner IS NULL OR owner = ? OR expires_at < ${NOW})`,
        [this.#id, ttlUs, ...mine, this.#id],
        'cannot claim buckets',
        { prepare: false },
      );
      // MySQL has no UPDATE ... RETURNING: read back what this relay now holds.
      const { rows } = await this.#db.query(
        `SELECT bucket FROM ${n.lease} WHERE owner = ? AND expires_at > ${NOW}`,
        [this.#id],
        'cannot claim buckets',
      );
      owned = rows.map((r) => Number(r.bucket)).sort((a, b) => a - b);
    }
    if (owned.join() !== this.#owned.join()) this.#log.info('relay buckets changed', { relays, owned: owned.length, of: buckets });
    this.#owned = owned;
    this.#renewedAt = Date.now();
    this.#leaseUntil = this.#renewedAt + this.#leaseMs;
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
