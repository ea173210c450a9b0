import type { Publisher } from '../brokers/publisher.js';
import { HeraldError, ErrorCodes, messageOf } from '../errors.js';
import type { HeraldEvent } from '../event.js';
import { silentLogger, type Logger } from '../observe/logger.js';
import { checkPostgresUrl } from './connect.js';
import { outboxDefaults, outboxNames, type OutboxNames, type PostgresOutboxSchemaOptions } from './schema.js';
import { recordFromRow } from '../relay/outbox-record.js';
import { PgSession } from './session.js';
import type { RelayRecord } from '../relay/source.js';
import { withSendSpan } from '../observe/messaging-spans.js';
import { loadTracing } from '../observe/tracing.js';

/** Options of {@link EagerDispatcher}. Defaults are in {@link eagerDefaults}. */
export interface EagerDispatcherOptions extends PostgresOutboxSchemaOptions {
  /** `postgres://` URL of the database that holds the outbox. */
  readonly database: string;
  /** Where events go; the same broker and topics as the polling relay's. Not closed by the dispatcher. */
  readonly publisher: Publisher;
  /**
   * How long the polling relay keeps off the events the dispatcher is publishing, in ms: the
   * dispatcher renews the hold by this much when it takes the rows. Keep it above the
   * publisher's longest wait for an acknowledgement (Kafka's `ackTimeoutMs`, 10 s by default):
   * a publish that takes longer may be delivered by the relay as well. Default 15000.
   */
  readonly claimMs?: number;
  /**
   * Most outbox rows older than the dispatched ones that are checked for per-key order. With a
   * longer backlog the relay is behind anyway; the dispatcher then hands its events to the relay
   * instead of reading the backlog on every commit. Default 1000.
   */
  readonly maxOlderRows?: number;
  readonly logger?: Logger;
}

/**
 * The defaults of {@link EagerDispatcherOptions}, in one table, and the hold that outbox appends
 * for eager dispatch should use (`new PostgresOutbox({ ..., holdMs: eagerDefaults.holdMs })`).
 */
export const eagerDefaults = { holdMs: 5_000, claimMs: 15_000, maxOlderRows: 1_000 } as const;

/** What one {@link EagerDispatcher.dispatch} did with each event, by event id. */
export interface DispatchResult {
  /** Published by the dispatcher, acknowledged by the broker, and removed from the outbox. */
  readonly published: readonly string[];
  /**
   * Handed to the polling relay at once: an older row of their key was still in the outbox, or
   * the publish failed. The relay delivers them, in order.
   */
  readonly released: readonly string[];
  /**
   * Left alone: no longer held for dispatch (the hold ran out and the relay has them, or they are
   * delivered already), not in the outbox (rolled back), or the database could not be reached, in
   * which case the relay delivers them when their hold ends.
   */
  readonly left: readonly string[];
  /** Why the fast path failed, when it did. The events are not lost: the relay delivers them. */
  readonly error?: HeraldError;
}

/** A pg client as {@link EagerDispatcher.commitAndDispatch} needs it (node-postgres `Client` or `PoolClient`). */
export interface CommittingClient {
  query(text: string): Promise<{ command?: string }>;
}

/**
 * **Eager dispatch** for the transactional outbox: right after the service's COMMIT, publish the
 * events it just appended (low latency, no relay round trip), with the **polling** relay as the
 * safety net. The outbox write stays atomic with the business change; only the delivery path
 * changes.
 *
 * How: the outbox appends the rows with a hold (`holdMs`, which sets `retry_at`), so the polling
 * relay leaves them, and the later events of their keys, alone for that long. `dispatch(events)`
 * then, in one statement, takes the rows that are still held (renewing the hold by `claimMs`)
 * and, for per-key order, hands to the relay instead every row whose key still has an older row
 * in the outbox. It publishes the rest as one batch, in commit order, and deletes exactly the
 * rows it published. Rows it could not publish it releases (`retry_at = NULL`, and a NOTIFY), so
 * the relay takes them at once. No database lock is held while the broker is called.
 *
 * Guarantees:
 * - at least once: an event the dispatcher does not publish is delivered by the relay, at the
 *   latest when its hold ends (the process died after its commit, or never called `dispatch`);
 * - once in the normal case: the relay never reads a row while it is held, and the dispatcher
 *   publishes only rows whose hold has not ended. A duplicate needs a publish slower than
 *   `claimMs`, a crash between the broker's acknowledgement and the delete, or a failed publish
 *   of which the broker kept part; the warehouse and inboxes deduplicate by event id;
 * - per key, delivery order equals commit order, with or without the relay running.
 *
 * For the **polling** relay only. The logical relay streams every insert of the outbox table and
 * ignores holds, so eager dispatch beside it would publish every event twice: the dispatcher
 * refuses (`CONFIG_INVALID`) when the outbox table is in a publication, which is how
 * `herald migrate --source logical` sets up the logical relay.
 *
 * `dispatch` resolves in every other case, with what it did: after the commit, the events are
 * safe in the outbox, so a failing fast path is not the caller's error (it is logged and
 * returned in `error`). One connection, opened on first use; `close()` is idempotent.
 */
export class EagerDispatcher {
  readonly #names: OutboxNames;
  readonly #schemaName: string;
  readonly #publisher: Publisher;
  readonly #claimMs: number;
  readonly #maxOlderRows: number;
  readonly #log: Logger;
  readonly #db: PgSession;
  readonly #claimSql: string;
  #checked = false;
  #closed = false;
  /** Dispatches under way; `close()` lets them finish so that none opens a connection after it. */
  readonly #inFlight = new Set<Promise<DispatchResult>>();

  constructor(options: EagerDispatcherOptions) {
    checkPostgresUrl(options.database);
    this.#names = outboxNames(options);
    this.#schemaName = options.schema ?? outboxDefaults.schema;
    if (typeof options.publisher?.publish !== 'function') {
      throw new HeraldError(ErrorCodes.CONFIG_INVALID, "option 'publisher' of the eager dispatcher must be a Publisher", {
        details: { option: 'publisher' },
      });
    }
    this.#publisher = options.publisher;
    this.#claimMs = positiveInteger('claimMs', options.claimMs ?? eagerDefaults.claimMs);
    this.#maxOlderRows = positiveInteger('maxOlderRows', options.maxOlderRows ?? eagerDefaults.maxOlderRows);
    this.#log = options.logger ?? silentLogger;
    this.#db = new PgSession(options.database, 'herald-eager-dispatch');
    this.#claimSql = claimSql(this.#names);
  }

  /**
   * Publishes the events an outbox append with a hold returned, after their transaction
   * committed; call it once per commit. Events without a held row are left to the relay.
   * Rejects only with `CONFIG_INVALID` (a logical relay reads this outbox) or `CLOSED`.
   */
  async dispatch(events: readonly HeraldEvent[]): Promise<DispatchResult> {
    if (this.#closed) throw new HeraldError(ErrorCodes.CLOSED, 'eager dispatcher is closed');
    const running = this.#dispatch(events);
    this.#inFlight.add(running);
    try {
      return await running;
    } finally {
      this.#inFlight.delete(running);
    }
  }

  async #dispatch(events: readonly HeraldEvent[]): Promise<DispatchResult> {
    const ids = [...new Set(events.map((e) => e.id))];
    if (ids.length === 0) return { published: [], released: [], left: [] };
    let claimed: { publish: RelayRecord[]; released: string[] };
    try {
      // Eager dispatch is for the polling relay: the logical relay would publish these rows too.
      await this.#refuseLogicalRelay();
      claimed = await this.#claim(ids, [...new Set(events.map((e) => e.partitionkey))]);
    } catch (err) {
      if (err instanceof HeraldError && err.code === ErrorCodes.CONFIG_INVALID) throw err;
      // Nothing was taken: the rows stay held and the relay delivers them when the hold ends.
      return this.#failed(err, { published: [], released: [], left: ids }, 'cannot take the events for eager dispatch');
    }
    const released = claimed.released;
    if (released.length > 0) await this.#wakeRelay();
    const records = claimed.publish;
    const taken = new Set([...records.map((r) => r.outgoing.event.id), ...released]);
    const left = ids.filter((id) => !taken.has(id));
    if (records.length === 0) return { published: [], released, left };
    const eventIds = records.map((r) => r.outgoing.event.id);
    try {
      const outgoing = records.map((r) => r.outgoing);
      const messages = outgoing.map((o) => ({ id: o.event.id, topic: o.topic, traceparent: o.event.traceparent }));
      // Dispatch runs right after the request's commit, so its span is the request's child.
      const publish = (): Promise<void> => this.#publisher.publish(outgoing);
      await withSendSpan(await loadTracing(), { system: this.#publisher.name, messages }, publish, { inActive: true });
    } catch (err) {
      const error = asHeraldError(err, `cannot publish ${records.length} event(s) eagerly`);
      await this.#release(records, error.message);
      return this.#failed(
        error,
        { published: [], released: [...released, ...eventIds], left },
        'eager publish failed; the relay delivers the events',
      );
    }
    try {
      await this.#db.query(
        `DELETE FROM ${this.#names.outbox} WHERE id = ANY($1::bigint[])`,
        [records.map((r) => r.position)],
        `cannot remove ${records.length} eagerly published event(s) from the outbox`,
      );
    } catch (err) {
      // The broker has them; the relay will publish them again when the claim ends (at least once).
      return this.#failed(
        err,
        { published: eventIds, released, left },
        'eagerly published events stay in the outbox; the relay will repeat them',
      );
    }
    return { published: eventIds, released, left };
  }

  /**
   * For node-postgres: commits the caller's transaction on `client`, then dispatches `events`.
   * Rejects when the COMMIT fails or PostgreSQL rolled the transaction back instead (an earlier
   * statement failed); then nothing was committed and nothing is dispatched. With postgres.js,
   * call `dispatch` after `await sql.begin(...)` has returned.
   */
  async commitAndDispatch(client: CommittingClient, events: readonly HeraldEvent[]): Promise<DispatchResult> {
    const result = await client.query('COMMIT');
    // node-postgres reports a COMMIT of a failed transaction as a successful ROLLBACK.
    if (result.command === 'ROLLBACK') {
      throw new HeraldError(
        ErrorCodes.DATABASE_ERROR,
        `cannot dispatch ${events.length} event(s): the transaction was rolled back at COMMIT, so they were never written`,
      );
    }
    return this.dispatch(events);
  }

  /** Lets the dispatches under way finish, then disconnects. The publisher stays open: it belongs to the caller. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#inFlight]);
    await this.#db.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /**
   * Takes the still-held rows of `ids` in one statement: those whose key has no older row left
   * in the outbox get a fresh hold of `claimMs` and are returned for publishing; the others are
   * released to the relay. `keys` lets PostgreSQL find held rows by the partial index on held
   * and retrying rows instead of scanning the table (`event_id` has no index).
   */
  async #claim(ids: string[], keys: string[]): Promise<{ publish: RelayRecord[]; released: string[] }> {
    const { rows } = await this.#db.query(this.#claimSql, [ids, keys, this.#maxOlderRows, this.#claimMs], 'cannot take held outbox rows');
    const publish: RelayRecord[] = [];
    const released: string[] = [];
    for (const row of rows) {
      if (row.publish === true) publish.push(recordFromRow(row));
      else released.push(row.event_id as string);
    }
    // RETURNING has no order; the batch must be in commit (id) order to keep per-key order.
    publish.sort((a, b) => (BigInt(a.position) < BigInt(b.position) ? -1 : 1));
    return { publish, released };
  }

  /** Hands rows back to the relay at once; if that fails too, their claim runs out instead. */
  async #release(records: readonly RelayRecord[], error: string): Promise<void> {
    try {
      await this.#db.query(
        `UPDATE ${this.#names.outbox} SET retry_at = NULL, last_error = $2 WHERE id = ANY($1::bigint[]) AND attempts = 0`,
        [records.map((r) => r.position), error],
        `cannot hand ${records.length} event(s) to the relay`,
      );
    } catch (err) {
      this.#log.warn('cannot hand events to the relay; it takes them when their hold ends', {
        events: records.length,
        error: messageOf(err),
      });
      return;
    }
    await this.#wakeRelay();
  }

  /** Wakes polling relays now: the outbox's NOTIFY trigger fires on inserts only, not on a release. */
  async #wakeRelay(): Promise<void> {
    await this.#db
      .query('SELECT pg_notify($1, $2)', [this.#names.channel, ''], 'cannot notify the relay')
      .catch((err: unknown) => this.#log.debug('cannot notify the relay; it finds the events on its next poll', { error: messageOf(err) }));
  }

  /**
   * Refuses to work beside the logical relay, which would publish each event a second time. The
   * logical relay reads the outbox through a publication of its table; checked once per dispatcher.
   */
  async #refuseLogicalRelay(): Promise<void> {
    if (this.#checked) return;
    const { rows } = await this.#db.query(
      `SELECT pubname FROM pg_catalog.pg_publication_tables WHERE schemaname = $1 AND tablename = 'outbox' LIMIT 1`,
      [this.#schemaName],
      'cannot check how the outbox is relayed',
    );
    if (rows.length > 0) {
      throw new HeraldError(
        ErrorCodes.CONFIG_INVALID,
        `eager dispatch works with the polling relay only: the outbox table of schema '${this.#schemaName}' is in publication '${String(rows[0]!.pubname)}' of the logical relay, which streams every insert itself and would publish each event twice; append without 'holdMs' and do not dispatch`,
        { details: { option: 'holdMs', publication: rows[0]!.pubname } },
      );
    }
    this.#checked = true;
  }

  #failed(err: unknown, result: Omit<DispatchResult, 'error'>, message: string): DispatchResult {
    const error = asHeraldError(err, 'eager dispatch failed');
    this.#log.warn(message, {
      published: result.published.length,
      released: result.released.length,
      left: result.left.length,
      error: error.message,
    });
    return { ...result, error };
  }
}

/**
 * The claim statement. `mine`: the dispatched rows still held for dispatch (never tried by the
 * relay, hold not over). `older`: up to `$3` rows before them that are not theirs, read along
 * the primary key; a full `older` means a backlog, and then every row goes to the relay. A row is
 * published only if no older row of its key remains, which keeps per-key commit order: such an
 * older row is delivered by the relay (or another dispatcher) first, and the relay, which skips
 * a key while any of its rows is held, reaches the released row only after it.
 */
function claimSql(n: OutboxNames): string {
  return `WITH mine AS MATERIALIZED (
      SELECT id, partition_key FROM ${n.outbox}
      WHERE partition_key = ANY($2::text[]) AND retry_at IS NOT NULL AND event_id = ANY($1::uuid[])
        AND attempts = 0 AND retry_at > now()
    ),
    older AS MATERIALIZED (
      SELECT id, partition_key FROM ${n.outbox}
      WHERE id < (SELECT max(id) FROM mine) AND id NOT IN (SELECT id FROM mine)
      ORDER BY id LIMIT $3
    ),
    decided AS MATERIALIZED (
      SELECT m.id, (SELECT count(*) FROM older) < $3
        AND NOT EXISTS (SELECT 1 FROM older f WHERE f.partition_key = m.partition_key AND f.id < m.id) AS publish
      FROM mine m
    )
    UPDATE ${n.outbox} o
      SET retry_at = CASE WHEN d.publish THEN clock_timestamp() + $4::integer * interval '1 millisecond' END
      FROM decided d
      WHERE o.id = d.id AND o.attempts = 0 AND o.retry_at > now()
      RETURNING o.id::text AS id, o.event_id::text AS event_id, o.topic, o.partition_key, o.type, o.source, o.subject,
        to_json(o.time) #>> '{}' AS time, o.dataschema, o.traceparent, o.data::text AS data, o.attempts, d.publish`;
}

function positiveInteger(option: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new HeraldError(
      ErrorCodes.CONFIG_INVALID,
      `option '${option}' of the eager dispatcher must be a positive integer, got ${String(value)}`,
      {
        details: { option },
      },
    );
  }
  return value;
}

function asHeraldError(err: unknown, what: string): HeraldError {
  return err instanceof HeraldError ? err : new HeraldError(ErrorCodes.PUBLISH_FAILED, `${what}: ${messageOf(err)}`, { cause: err });
}
