import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { HeraldError, ErrorCodes } from '../errors.js';
import { outboxNames, type OutboxNames, type PostgresOutboxSchemaOptions } from './schema.js';
import { connectPg, type PgClient } from './connect.js';
import { PgSession } from './session.js';
import { silentLogger, type Logger } from '../observe/logger.js';
import { fairShare } from '../relay/fair-share.js';
import { recordFromRow } from '../relay/outbox-record.js';
import { waitUntilWoken } from '../relay/wake.js';
import type { RelayRecord, RelaySource, SourceOwnership } from '../relay/source.js';

/** Options of {@link PollingSource}. Defaults are in {@link pollingDefaults}. */
export interface PollingSourceOptions extends PostgresOutboxSchemaOptions {
  /** `postgres://` URL of the database that holds the outbox. */
  readonly database: string;
  /**
   * How long a relay owns its buckets without renewing, in ms. A relay that dies holds its
   * buckets this long at most; a live relay renews every third of it. Default 15000.
   */
  readonly leaseMs?: number;
  readonly logger?: Logger;
}

/** The defaults of {@link PollingSourceOptions}, in one table. */
export const pollingDefaults = { leaseMs: 15_000 } as const;

/**
 * Reads the PostgreSQL outbox table by polling, woken by LISTEN/NOTIFY.
 *
 * Order with several relays: rows hash into buckets by partition key, and each bucket is leased
 * to one relay at a time (fair shares, rebalanced as relays come and go). Within its buckets a
 * relay reads rows in id order, and the outbox gives ids in commit order per key. No row lock is
 * held while the broker is called: the lease is a row in `relay_lease` with an expiry, renewed
 * between batches. Rows are deleted only after the broker acknowledged them.
 */
export class PollingSource implements RelaySource {
  readonly name = 'polling';
  readonly #names: OutboxNames;
  readonly #url: string;
  readonly #leaseMs: number;
  readonly #log: Logger;
  readonly #id = randomUUID();
  readonly #db: PgSession;
  #listener: PgClient | undefined;
  #owned: number[] = [];
  #leaseUntil = 0;
  #renewedAt = 0;
  #wake: (() => void) | undefined;
  #notified = false;
  #buckets: number | undefined;

  constructor(options: PollingSourceOptions) {
    this.#names = outboxNames(options);
    this.#url = options.database;
    // Each new connection also (re)starts listening, unless the listener is still up.
    this.#db = new PgSession(options.database, 'herald-relay', async () => {
      if (!this.#listener)
        await this.#listen().catch((err: unknown) =>
          this.#log.warn('cannot listen for outbox notifications; polling only', { error: (err as Error).message }),
        );
    });
    this.#leaseMs = options.leaseMs ?? pollingDefaults.leaseMs;
    this.#log = options.logger ?? silentLogger;
  }

  /** This relay instance's id, as recorded in `relay_instance` and `relay_lease`. */
  get instanceId(): string {
    return this.#id;
  }

  /** The buckets this relay leases now (renewed between batches); no I/O. */
  ownership(): SourceOwnership {
    const leased = Date.now() < this.#leaseUntil ? this.#owned.length : 0;
    return { held: leased > 0, leasedBuckets: leased };
  }

  /** Connects and starts listening; rejects with a clear error when the database is unreachable. */
  async start(): Promise<void> {
    await this.#bucketCount();
  }

  async next(max: number): Promise<RelayRecord[]> {
    if (Date.now() - this.#renewedAt > this.#leaseMs / 3) await this.#rebalance();
    // Never start a batch on a lease that could run out while the broker is called.
    if (this.#owned.length === 0 || Date.now() > this.#leaseUntil - this.#leaseMs / 2) return [];
    const n = this.#names;
    const { rows } = await this.#db.query(
      `SELECT id::text AS id, event_id::text AS event_id, topic, partition_key, type, source, subject,
          to_json(time) #>> '{}' AS time, dataschema, traceparent, data::text AS data, attempts
        FROM ${n.outbox} o
        WHERE bucket = ANY($1::int[])
          AND NOT EXISTS (SELECT 1 FROM ${n.outbox} r WHERE r.retry_at > now() AND r.partition_key = o.partition_key)
        ORDER BY o.id LIMIT $2` /* o.id, not the text alias 'id', which would sort 10 before 9 */,
      [this.#owned, max],
      'cannot read the outbox',
    );
    return rows.map(recordFromRow);
  }

  async waitForWork(ms: number, signal: AbortSignal): Promise<void> {
    if (this.#notified) {
      this.#notified = false;
      return;
    }
    await waitUntilWoken(ms, signal, (wake) => (this.#wake = wake));
    this.#notified = false;
  }

  async delivered(records: readonly RelayRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.#db.query(
      `DELETE FROM ${this.#names.outbox} WHERE id = ANY($1::bigint[])`,
      [records.map((r) => r.position)],
      'cannot mark events delivered',
    );
  }

  async retryLater(record: RelayRecord, error: string, delayMs: number): Promise<void> {
    await this.#db.query(
      `UPDATE ${this.#names.outbox} SET attempts = attempts + 1, last_error = $2, retry_at = now() + $3 * interval '1 millisecond' WHERE id = $1`,
      [record.position, error, delayMs],
      'cannot schedule a retry',
    );
  }

  async deadLetter(record: RelayRecord, error: string): Promise<void> {
    const n = this.#names;
    await this.#db.query(
      `WITH moved AS (DELETE FROM ${n.outbox} WHERE id = $1 RETURNING *)
      INSERT INTO ${n.deadLetter} (id, event_id, topic, partition_key, type, source, subject, time, dataschema, traceparent, data, created_at, attempts, last_error)
      SELECT id, event_id, topic, partition_key, type, source, subject, time, dataschema, traceparent, data, created_at, attempts + 1, $2 FROM moved`,
      [record.position, error],
      'cannot move an event to the dead-letter table',
    );
  }

  /** Releases this relay's buckets so that others take them over at once, then disconnects. */
  async close(): Promise<void> {
    const db = this.#db.current;
    if (db) {
      await db.query(`UPDATE ${this.#names.lease} SET owner = NULL, expires_at = NULL WHERE owner = $1`, [this.#id]).catch(() => undefined);
      await db.query(`DELETE FROM ${this.#names.relays} WHERE id = $1`, [this.#id]).catch(() => undefined);
    }
    await this.#db.close();
    const listener = this.#listener;
    this.#listener = undefined;
    await listener?.end().catch(() => undefined);
    this.#wake?.();
  }

  /**
   * Registers this relay, computes its fair share of buckets from the live relays (sorted by id,
   * bucket b goes to relay b mod n), gives back buckets outside its share and claims free or
   * expired ones inside it. Called between batches only, so a released bucket has nothing in
   * flight here.
   */
  async #rebalance(): Promise<void> {
    const n = this.#names;
    const ttl = `${this.#leaseMs} * interval '1 millisecond'`;
    const { rows: live } = await this.#db.query(
      `WITH me AS (
        INSERT INTO ${n.relays} (id, host, pid) VALUES ($1, $2, $3)
        ON CONFLICT (id) DO UPDATE SET seen_at = now() RETURNING id),
      gone AS (DELETE FROM ${n.relays} WHERE seen_at < now() - 2 * ${ttl} AND id <> $1)
      SELECT id::text AS id FROM ${n.relays} WHERE seen_at > now() - ${ttl} OR id = $1
      UNION SELECT id::text FROM me ORDER BY id`,
      [this.#id, hostname(), process.pid],
      'cannot register the relay',
    );
    const buckets = await this.#bucketCount();
    const { relays, mine } = fairShare(
      live.map((r) => r.id as string),
      this.#id,
      buckets,
    );
    await this.#db.query(
      `UPDATE ${n.lease} SET owner = NULL, expires_at = NULL WHERE owner = $1 AND NOT (bucket = ANY($2::int[]))`,
      [this.#id, mine],
      'cannot release buckets',
    );
    const { rows } = await this.#db.query(
      `UPDATE ${n.lease} SET owner = $1, expires_at = now() + ${ttl}
        WHERE bucket = ANY($2::int[]) AND (owner IS NULL OR owner = $1 OR expires_at < now())
        RETURNING bucket`,
      [this.#id, mine],
      'cannot claim buckets',
    );
    const owned = rows.map((r) => Number(r.bucket)).sort((a, b) => a - b);
    if (owned.join() !== this.#owned.join()) this.#log.info('relay buckets changed', { relays, owned: owned.length, of: buckets });
    this.#owned = owned;
    this.#renewedAt = Date.now();
    this.#leaseUntil = this.#renewedAt + this.#leaseMs;
  }

  async #bucketCount(): Promise<number> {
    if (this.#buckets === undefined) {
      const { rows } = await this.#db.query(
        `SELECT value FROM ${this.#names.meta} WHERE key = 'buckets'`,
        [],
        'cannot read the outbox settings',
      );
      if (rows.length === 0) throw new HeraldError(ErrorCodes.NOT_MIGRATED, "the outbox is not set up; run 'herald migrate' first");
      this.#buckets = Number(rows[0]!.value);
    }
    return this.#buckets;
  }

  async #listen(): Promise<void> {
    const listener = await connectPg(this.#url, 'herald-relay-listen');
    listener.on('notification', () => {
      this.#notified = true;
      this.#wake?.();
    });
    // If the listening connection drops, fall back to polling and reconnect on the next wait.
    listener.on('end', () => {
      if (this.#listener === listener) this.#listener = undefined;
    });
    await listener.query(`LISTEN "${this.#names.channel}"`);
    this.#listener = listener;
  }
}
