import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { HeraldError, ErrorCodes } from '../errors.js';
import { notifyInEffectSql, outboxNames, type OutboxNames, type PostgresOutboxSchemaOptions } from './schema.js';
import { connectPg, type PgClient } from './connect.js';
import { PgSession } from './session.js';
import { silentLogger, type Logger } from '../observe/logger.js';
import { fairShare } from '../relay/fair-share.js';
import { recordFromRow } from '../relay/outbox-record.js';
import { waitUntilWoken } from '../relay/wake.js';
import { LeaseBook, leaseLost, leaseOfRecord } from '../relay/lease-book.js';
import type { LeaseFencing, RelayRecord, RelaySource, SourceOwnership } from '../relay/source.js';

/** Options of {@link PollingSource}. Defaults are in {@link pollingDefaults}. */
export interface PollingSourceOptions extends PostgresOutboxSchemaOptions {
  /** `postgres://` URL of the database that holds the outbox. */
  readonly database: string;
  /**
   * How long a relay owns its buckets without renewing, in ms. A relay that dies holds its
   * buckets this long at most; a live relay renews every third of it. Default 15000.
   */
  readonly leaseMs?: number;
  /**
   * On an outbox without NOTIFY trigger (`herald migrate --no-notify`): how long to wait between
   * two reads while there is nothing to deliver, in ms, instead of the relay's poll interval.
   * This is the added latency of an event that arrives while the relay is idle. Default 25.
   */
  readonly idlePollMs?: number;
  readonly logger?: Logger;
}

/** The defaults of {@link PollingSourceOptions}, in one table. */
export const pollingDefaults = { leaseMs: 15_000, idlePollMs: 25 } as const;

/**
 * Reads the PostgreSQL outbox table by polling, woken by LISTEN/NOTIFY; on an outbox without
 * NOTIFY trigger, by a fast idle poll (`idlePollMs`). The mode is read from the table's trigger at
 * start and again at each lease renewal, and logged when it changes.
 *
 * Order with several relays: rows hash into buckets by partition key, and each bucket is leased
 * to one relay at a time (fair shares, rebalanced as relays come and go). Within its buckets a
 * relay reads rows in id order, and the outbox gives ids in commit order per key. No row lock is
 * held while the broker is called: the lease is a row in `relay_lease` with an expiry, renewed
 * between batches. Rows are deleted only after the broker acknowledged them.
 *
 * Fencing: each bucket has an epoch that the database bumps whenever the bucket changes owner.
 * A record carries the epoch it was read under, and `delivered`, `retryLater` and `deadLetter`
 * act, in one statement, only on records whose bucket is still owned by this relay with that
 * epoch; otherwise they reject with `LEASE_LOST` and record nothing. So a relay that stalled past
 * its lease (a paused VM, `SIGSTOP`) and wakes up never deletes or reschedules what another relay
 * now delivers. Its producer identity is `herald-<schema>-<instance id>`.
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
  readonly #leases: LeaseBook;
  readonly #schemaName: string;
  #wake: (() => void) | undefined;
  #notified = false;
  #buckets: number | undefined;
  readonly #idlePollMs: number;
  /** Whether the outbox's NOTIFY trigger is in effect; undefined until first read. */
  #notify: boolean | undefined;

  constructor(options: PollingSourceOptions) {
    this.#names = outboxNames(options);
    this.#url = options.database;
    // Each new connection also (re)starts listening, unless the listener is still up.
    this.#db = new PgSession(options.database, 'herald-relay', async () => {
      if (!this.#listener && this.#notify !== false)
        await this.#listen().catch((err: unknown) =>
          this.#log.warn('cannot listen for outbox notifications; polling only', { error: (err as Error).message }),
        );
    });
    this.#leaseMs = options.leaseMs ?? pollingDefaults.leaseMs;
    this.#idlePollMs = options.idlePollMs ?? pollingDefaults.idlePollMs;
    if (!Number.isInteger(this.#idlePollMs) || this.#idlePollMs < 1) {
      throw new HeraldError(
        ErrorCodes.CONFIG_INVALID,
        `option 'idlePollMs' must be a positive integer, got ${String(options.idlePollMs)}`,
        {
          details: { option: 'idlePollMs' },
        },
      );
    }
    this.#log = options.logger ?? silentLogger;
    this.#schemaName = options.schema ?? 'herald';
    this.#leases = new LeaseBook(this.#leaseMs, (owner) => `herald-${this.#schemaName}-${owner}`);
  }

  /** This relay instance's id, as recorded in `relay_instance` and `relay_lease`. */
  get instanceId(): string {
    return this.#id;
  }

  /** The buckets this relay leases now (renewed between batches); no I/O. */
  ownership(): SourceOwnership {
    const leased = this.#leases.heldCount;
    return { held: leased > 0, leasedBuckets: leased };
  }

  /** Connects and starts listening; rejects with a clear error when the database is unreachable. */
  async start(): Promise<void> {
    await this.#bucketCount();
    await this.#readWakeMode();
  }

  /** Whether relays are woken by the outbox's NOTIFY trigger (`true`) or poll while idle; undefined before start. */
  get notify(): boolean | undefined {
    return this.#notify;
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
   * `next`, which renews. Rows of a key that commits later than `inFlight` was read have higher
   * ids than that key's rows in `inFlight` (the outbox gives ids in commit order per key), so
   * excluding `inFlight` by id keeps each key in order.
   */
  async readAhead(max: number, inFlight: readonly RelayRecord[]): Promise<RelayRecord[]> {
    if (this.#leases.renewDue || !this.#leases.roomForBatch) return [];
    return this.#read(
      max,
      inFlight.map((r) => r.position),
    );
  }

  /** Up to `max` rows of the held buckets in id order, except `excluded` ids and keys waiting for a retry. */
  async #read(max: number, excluded: string[]): Promise<RelayRecord[]> {
    const n = this.#names;
    const { rows } = await this.#db.query(
      `SELECT id::text AS id, bucket, event_id::text AS event_id, topic, partition_key, type, source, subject,
          to_json(time) #>> '{}' AS time, dataschema, traceparent, data::text AS data, attempts
        FROM ${n.outbox} o
        WHERE bucket = ANY($1::int[]) AND o.id <> ALL($3::bigint[])
          AND NOT EXISTS (SELECT 1 FROM ${n.outbox} r WHERE r.retry_at > now() AND r.partition_key = o.partition_key)
        ORDER BY o.id LIMIT $2` /* o.id, not the text alias 'id', which would sort 10 before 9 */,
      [this.#leases.buckets, max, excluded],
      'cannot read the outbox',
    );
    return rows.map((row) => ({ ...recordFromRow(row), lease: this.#leases.heldToken(Number(row.bucket)) }));
  }

  /** Throws `LEASE_LOST` when, by the local clock, the records' leases may have moved on. */
  checkLease(records: readonly RelayRecord[]): void {
    this.#leases.check(records);
  }

  /**
   * Extends the held buckets' leases without rebalancing (nothing is released: records of every
   * held bucket may be in flight); epochs stay as they are, since the owner does not change. A
   * bucket another relay has claimed meanwhile is not returned, and so no longer held here.
   */
  async renewLease(): Promise<void> {
    if (!this.#leases.renewDue) return;
    const held = this.#leases.buckets;
    if (held.length === 0) return;
    const askedAt = this.#leases.askedAt();
    const { rows } = await this.#db.query(
      `UPDATE ${this.#names.lease} SET expires_at = now() + ${this.#leaseMs} * interval '1 millisecond'
        WHERE owner = $1 AND bucket = ANY($2::int[])
        RETURNING bucket, epoch::text AS epoch, stale_owners::text[] AS stale_owners`,
      [this.#id, held],
      'cannot renew the lease',
    );
    this.#leases.renewed(
      rows.map((r) => ({
        bucket: Number(r.bucket),
        epoch: r.epoch as string,
        staleOwners: (r.stale_owners as string[]).filter((o) => o !== this.#id),
      })),
      askedAt,
    );
  }

  /** Rejects with `LEASE_LOST` unless the database still has these records' leases as read. */
  async confirmLease(records: readonly RelayRecord[]): Promise<void> {
    const [buckets, epochs] = this.#tokens(records);
    const { rows } = await this.#db.query(
      `SELECT count(*)::int AS moved FROM unnest($1::int[], $2::bigint[]) AS r(bucket, epoch)
        LEFT JOIN ${this.#names.lease} l ON l.bucket = r.bucket AND l.epoch = r.epoch AND l.owner = $3
        WHERE l.bucket IS NULL`,
      [buckets, epochs, this.#id],
      'cannot confirm the lease',
    );
    if (Number(rows[0]?.moved ?? 0) > 0) this.#fencedOut(`cannot publish ${records.length} event(s)`);
  }

  /** This relay's producer identity, and the owners of buckets it took over still to fence. */
  fencing(): LeaseFencing {
    return this.#leases.fencing(this.#id);
  }

  /** Clears fenced owners from the buckets this relay holds. */
  async fenced(previous: readonly string[]): Promise<void> {
    const owners = this.#leases.fenced(previous);
    if (owners.length === 0) return;
    await this.#db.query(
      `UPDATE ${this.#names.lease} SET stale_owners = ARRAY(SELECT unnest(stale_owners) EXCEPT SELECT unnest($2::uuid[]))
        WHERE owner = $1 AND stale_owners && $2::uuid[]`,
      [this.#id, owners],
      'cannot record fenced relays',
    );
  }

  async waitForWork(ms: number, signal: AbortSignal): Promise<void> {
    if (this.#notified) {
      this.#notified = false;
      return;
    }
    // Without the trigger no notification comes: the idle poll bounds the wait instead.
    await waitUntilWoken(this.#notify === false ? Math.min(ms, this.#idlePollMs) : ms, signal, (wake) => (this.#wake = wake));
    this.#notified = false;
  }

  /**
   * Deletes the records whose lease is still held with the epoch they were read under, in one
   * statement; rejects with `LEASE_LOST` when any was not (those rows stay for their new owner).
   */
  async delivered(records: readonly RelayRecord[]): Promise<void> {
    if (records.length === 0) return;
    const n = this.#names;
    const { rows } = await this.#db.query(
      `WITH r AS (SELECT * FROM unnest($1::bigint[], $2::int[], $3::bigint[]) AS r(id, bucket, epoch)),
        held AS (SELECT r.id FROM r JOIN ${n.lease} l ON l.bucket = r.bucket AND l.owner = $4 AND l.epoch = r.epoch),
        gone AS (DELETE FROM ${n.outbox} o USING held WHERE o.id = held.id RETURNING 1)
      SELECT (SELECT count(*) FROM r) - (SELECT count(*) FROM held) AS fenced, (SELECT count(*) FROM gone) AS deleted`,
      [records.map((r) => r.position), ...this.#tokens(records), this.#id],
      'cannot mark events delivered',
    );
    const fenced = Number(rows[0]?.fenced ?? 0);
    // The events of buckets still held are deleted all the same: they were published, and
    // recording them spares the new owner duplicates.
    if (fenced > 0) this.#fencedOut(`cannot mark ${fenced} of ${records.length} event(s) delivered`, Number(rows[0]?.deleted ?? 0));
  }

  async retryLater(record: RelayRecord, error: string, delayMs: number): Promise<void> {
    await this.#underLease(
      record,
      `act AS (UPDATE ${this.#names.outbox} SET attempts = attempts + 1, last_error = $5, retry_at = now() + $6 * interval '1 millisecond'
        WHERE id = $1 AND EXISTS (SELECT 1 FROM held) RETURNING 1)`,
      [error, delayMs],
      'cannot schedule a retry',
    );
  }

  async deadLetter(record: RelayRecord, error: string): Promise<void> {
    const n = this.#names;
    await this.#underLease(
      record,
      `moved AS (DELETE FROM ${n.outbox} WHERE id = $1 AND EXISTS (SELECT 1 FROM held) RETURNING *),
      act AS (INSERT INTO ${n.deadLetter} (id, event_id, topic, partition_key, type, source, subject, time, dataschema, traceparent, data, created_at, attempts, last_error)
        SELECT id, event_id, topic, partition_key, type, source, subject, time, dataschema, traceparent, data, created_at, attempts + 1, $5 FROM moved RETURNING 1)`,
      [error],
      'cannot move an event to the dead-letter table',
    );
  }

  /**
   * Runs the data-modifying CTEs `actions` (row `$1`, extra parameters from `$5`, each guarded by
   * `EXISTS (SELECT 1 FROM held)`) in one statement, only while the record's bucket is owned by
   * this relay with the epoch it was read under; rejects with `LEASE_LOST` otherwise.
   */
  async #underLease(record: RelayRecord, actions: string, params: unknown[], what: string): Promise<void> {
    const token = leaseOfRecord(record);
    const { rows } = await this.#db.query(
      `WITH held AS (SELECT 1 FROM ${this.#names.lease} WHERE bucket = $2 AND epoch = $3 AND owner = $4), ${actions}
      SELECT EXISTS (SELECT 1 FROM held) AS held`,
      [record.position, token.bucket, token.epoch, this.#id, ...params],
      what,
    );
    if (rows[0]?.held !== true) this.#fencedOut(`${what} for event ${record.outgoing.event.id}`);
  }

  /** Releases this relay's buckets so that others take them over at once, then disconnects. */
  async close(): Promise<void> {
    const db = this.#db.current;
    if (db) {
      await db.query(`UPDATE ${this.#names.lease} SET owner = NULL, expires_at = NULL WHERE owner = $1`, [this.#id]).catch(() => undefined);
      await db.query(`DELETE FROM ${this.#names.relays} WHERE id = $1`, [this.#id]).catch(() => undefined);
    }
    await this.#db.close();
    await this.#unlisten();
    this.#wake?.();
  }

  /** The buckets and epochs of `records`, as two arrays for `unnest`. */
  #tokens(records: readonly RelayRecord[]): [number[], string[]] {
    const tokens = records.map((r) => leaseOfRecord(r));
    return [tokens.map((t) => t.bucket), tokens.map((t) => t.epoch)];
  }

  /** Forgets the leases (the next read rebalances) and throws `LEASE_LOST`. */
  #fencedOut(what: string, recorded = 0): never {
    this.#leases.lost();
    throw leaseLost(
      `${what}: this relay no longer holds the lease it read them under (it stalled past it); another relay delivers them now`,
      recorded,
    );
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
    // The lease is counted from before the claim was sent, so the local clock never believes in
    // more lease than the database granted. The trigger bumps `epoch` on a change of owner.
    const askedAt = this.#leases.askedAt();
    const { rows } = await this.#db
      .query(
        `UPDATE ${n.lease} SET owner = $1, expires_at = now() + ${ttl}
        WHERE bucket = ANY($2::int[]) AND (owner IS NULL OR owner = $1 OR expires_at < now())
        RETURNING bucket, epoch::text AS epoch, stale_owners::text[] AS stale_owners`,
        [this.#id, mine],
        'cannot claim buckets',
      )
      .catch((err: unknown) => {
        // SQLSTATE 42703: a lease table from before lease epochs (schema version 3).
        if (err instanceof HeraldError && err.details.sqlstate === '42703')
          throw new HeraldError(ErrorCodes.NOT_MIGRATED, "the outbox predates lease epochs (fencing); run 'herald migrate' to upgrade it", {
            cause: err,
          });
        throw err;
      });
    const before = this.#leases.buckets.join();
    this.#leases.renewed(
      rows.map((r) => ({
        bucket: Number(r.bucket),
        epoch: r.epoch as string,
        staleOwners: (r.stale_owners as string[]).filter((o) => o !== this.#id),
      })),
      askedAt,
    );
    const owned = this.#leases.buckets;
    if (owned.join() !== before) this.#log.info('relay buckets changed', { relays, owned: owned.length, of: buckets });
    // A `herald migrate --notify / --no-notify` while relays run is picked up within a renewal.
    await this.#readWakeMode();
  }

  /** Reads whether the NOTIFY trigger is in effect; logs the mode when it is new or changed. */
  async #readWakeMode(): Promise<void> {
    const { rows } = await this.#db.query(notifyInEffectSql(this.#names), [], 'cannot read the outbox wake mode');
    const notify = rows[0]?.notify === true;
    if (notify === this.#notify) return;
    this.#notify = notify;
    // No notification comes without the trigger, so its connection would only sit there.
    if (!notify) await this.#unlisten();
    else if (!this.#listener)
      await this.#listen().catch((err: unknown) =>
        this.#log.warn('cannot listen for outbox notifications; polling only', { error: (err as Error).message }),
      );
    if (notify) this.#log.info('outbox has its NOTIFY trigger: the relay is woken at commit', { safetyPoll: 'relay poll interval' });
    else this.#log.info('outbox has no NOTIFY trigger: the relay polls while idle', { idlePollMs: this.#idlePollMs });
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

  async #unlisten(): Promise<void> {
    const listener = this.#listener;
    this.#listener = undefined;
    await listener?.end().catch(() => undefined);
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
