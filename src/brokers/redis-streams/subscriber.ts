import { hostname } from 'node:os';
import { HeraldError, ErrorCodes, messageOf } from '../../errors.js';
import { importPeer } from '../peer.js';
import { decodeIncoming } from '../incoming.js';
import {
  isReplyError,
  parseRedisUrl,
  redisClientOptions,
  redisStreamsDefaults,
  withTimeout,
  withoutCommand,
  type RedisAddress,
} from './publisher.js';
import { STOPPED, subscriberSettings, untilStopped, type SubscriberSettings } from '../subscriber-buffer.js';
import type { IncomingEvent, Subscriber, SubscriberBatch, SubscriberOptions } from '../subscriber.js';

/** Options of {@link RedisStreamsSubscriber}. Defaults are in {@link redisStreamsSubscriberDefaults}. */
export interface RedisStreamsSubscriberOptions extends SubscriberOptions {
  /** `redis://[[user]:password@]host[:port][/db]`. The password never appears in messages. */
  readonly url: string;
  /** Prepended to each topic to make the stream key, as for the publisher. Default none. */
  readonly keyPrefix?: string;
  /**
   * This process's name within the consumer group. Entries it read and did not acknowledge stay
   * pending under this name, and it reads them again first when it starts. Default `hostname-pid`:
   * two subscribers of one group in one process need names of their own, or each re-reads the
   * other's pending entries.
   */
  readonly consumer?: string;
  /**
   * Entries pending this long (ms) with another consumer of the group, one that crashed or went
   * away, are claimed (`XAUTOCLAIM`) and handed out here. Checked on start and then this often.
   * Default 30000.
   */
  readonly claimIdleMs?: number;
  /** Longest wait for the connection and its handshake, in ms. Default 5000. */
  readonly connectTimeoutMs?: number;
  /** Longest wait for the reply to one command (other than a blocking read), in ms. Default 10000. */
  readonly timeoutMs?: number;
}

/** The defaults of {@link RedisStreamsSubscriberOptions}, in one table (`consumer`: `hostname-pid`). */
export const redisStreamsSubscriberDefaults = {
  keyPrefix: redisStreamsDefaults.keyPrefix,
  claimIdleMs: 30_000,
  connectTimeoutMs: 5_000,
  timeoutMs: 10_000,
} as const;

interface Settings {
  readonly keyPrefix: string;
  readonly consumer: string;
  readonly claimIdleMs: number;
  readonly connectTimeoutMs: number;
  readonly timeoutMs: number;
}

type RedisClass = typeof import('ioredis').Redis;
type RedisClient = import('ioredis').Redis;

/** One stream entry read for the group, with what acknowledging it needs. */
interface Entry {
  readonly key: string;
  readonly event: IncomingEvent;
}

/** Where one iteration stands: re-reading pending entries (from `cursors`) or reading new ones. */
interface ReadState {
  history: boolean;
  cursors: Map<string, string>;
  nextClaimAt: number;
}

/**
 * Reads Redis Streams through a consumer group with `ioredis` (an optional peer dependency), one
 * stream per topic (`keyPrefix + topic`), the group named `group`.
 *
 * - At least once: an entry stays in the group's pending list until a batch holding it is
 *   acknowledged (`XACK`). Each iteration first re-reads this consumer's own pending entries, and
 *   on start and every `claimIdleMs` claims (`XAUTOCLAIM`) entries that have been pending that long
 *   with other consumers, so no entry stays pending for good when a consumer goes away.
 * - Order: per stream, in entry order; entries re-read or claimed come before new ones.
 * - The event is what the publisher wrote: `data` byte for byte, `ce_*` fields as attributes, the
 *   `id` field as `attributes.id`; position is the entry id. An entry deleted from the stream while
 *   pending is acknowledged and skipped: there is nothing left to hand out.
 * - `prepare()` creates the group at the start of the stream (`XGROUP CREATE ... 0 MKSTREAM`) when
 *   `createSubscriptions` is set; otherwise a missing stream or group is `TOPIC_NOT_FOUND`.
 * - Errors: no connection or no reply is `BROKER_UNAVAILABLE` (retryable); a key of another type
 *   is `CONFIG_INVALID`; a group deleted under a running iteration is `TOPIC_NOT_FOUND`.
 * - `close()` is idempotent, drops the connection (ending a blocked read at once) and leaves
 *   unacknowledged entries pending.
 */
export class RedisStreamsSubscriber implements Subscriber {
  readonly name = 'redis-streams';
  readonly #settings: SubscriberSettings;
  readonly #address: RedisAddress;
  readonly #options: Settings;
  /** Stream key → topic. */
  readonly #topics: Map<string, string>;
  readonly #closing = new AbortController();
  #Redis: RedisClass | undefined;
  #client: RedisClient | undefined;

  constructor(options: RedisStreamsSubscriberOptions) {
    this.#settings = subscriberSettings('redis streams', options);
    this.#address = parseRedisUrl(options.url);
    const d = redisStreamsSubscriberDefaults;
    const merged: Settings = {
      keyPrefix: options.keyPrefix ?? d.keyPrefix,
      consumer: options.consumer ?? `${hostname()}-${process.pid}`,
      claimIdleMs: options.claimIdleMs ?? d.claimIdleMs,
      connectTimeoutMs: options.connectTimeoutMs ?? d.connectTimeoutMs,
      timeoutMs: options.timeoutMs ?? d.timeoutMs,
    };
    for (const option of ['claimIdleMs', 'connectTimeoutMs', 'timeoutMs'] as const) {
      if (!(Number.isInteger(merged[option]) && merged[option] > 0)) invalid(option, 'a positive integer');
    }
    if (typeof merged.keyPrefix !== 'string') invalid('keyPrefix', 'a string');
    if (typeof merged.consumer !== 'string' || merged.consumer === '') invalid('consumer', 'a non-empty name');
    this.#options = merged;
    this.#topics = new Map(this.#settings.topics.map((t) => [merged.keyPrefix + t, t]));
  }

  /**
   * Checks every stream and its group, creating the group (and an empty stream) when
   * `createSubscriptions` is set. Creating is idempotent: an existing group is kept as it is.
   */
  async prepare(): Promise<void> {
    this.#checkOpen();
    const { group, createSubscriptions } = this.#settings;
    for (const key of this.#topics.keys()) {
      const what = `cannot check consumer group '${group}' of redis stream '${key}'`;
      if (createSubscriptions) {
        await this.#call(['XGROUP', 'CREATE', key, group, '0', 'MKSTREAM'], what).catch((err: unknown) => {
          // Another loader instance created it first.
          if (!(err instanceof HeraldError && /BUSYGROUP/.test(messageOf(err.cause)))) throw err;
        });
        continue;
      }
      const groups = await this.#call(['XINFO', 'GROUPS', key], what).catch((err: unknown) => {
        if (err instanceof HeraldError && /no such key/i.test(messageOf(err.cause))) return [];
        throw err;
      });
      const names = (groups as unknown[][]).map((g) => fieldsOf(g).name);
      if (!names.includes(group)) {
        throw new HeraldError(
          ErrorCodes.TOPIC_NOT_FOUND,
          `consumer group '${group}' of redis stream '${key}' does not exist on ${this.#address.display}; create it (XGROUP CREATE ${key} ${group} 0 MKSTREAM) or allow creating subscriptions`,
          { details: { stream: key, group } },
        );
      }
    }
  }

  async *batches(signal?: AbortSignal): AsyncGenerator<SubscriberBatch> {
    this.#checkOpen();
    const stop = signal ? AbortSignal.any([signal, this.#closing.signal]) : this.#closing.signal;
    const { maxBatch, maxWaitMs } = this.#settings;
    const state: ReadState = { history: true, cursors: this.#startCursors(), nextClaimAt: 0 };
    // Entries read but not yet handed out: XREADGROUP's COUNT applies per stream.
    const queue: Entry[] = [];
    while (!stop.aborted) {
      if (queue.length === 0) {
        // Claimed only between batches: entries still queued here must not be claimed and read twice.
        if (Date.now() >= state.nextClaimAt) {
          const claimed = await untilStopped(this.#claim(maxBatch), stop);
          if (claimed === STOPPED) return;
          // Claimed entries join this consumer's pending list, read next from its start; more
          // may be idle, so the next claim follows as soon as those are handed out.
          state.nextClaimAt = claimed ? 0 : Date.now() + this.#options.claimIdleMs;
          if (claimed) {
            state.history = true;
            state.cursors = this.#startCursors();
          }
        }
        const first = await this.#read(state, stop, maxBatch);
        if (first === STOPPED) return;
        queue.push(...first);
        const deadline = Date.now() + maxWaitMs;
        // Re-read entries are handed out at once; new ones may be joined by more until the deadline.
        while (queue.length > 0 && queue.length < maxBatch && !state.history && deadline - Date.now() >= 1) {
          const more = await this.#read(state, stop, maxBatch - queue.length, deadline - Date.now());
          if (more === STOPPED) return;
          if (more.length === 0) break;
          queue.push(...more);
        }
        if (queue.length === 0) continue;
      }
      yield this.#batch(queue.splice(0, maxBatch));
    }
  }

  async close(): Promise<void> {
    if (this.#closing.signal.aborted) return;
    this.#closing.abort();
    // Nothing is left to flush (acknowledgements are awaited by their callers), and a blocked
    // XREADGROUP would hold up a QUIT, so the connection is simply dropped.
    this.#discard();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #batch(entries: Entry[]): SubscriberBatch {
    const ids = new Map<string, string[]>();
    for (const { key, event } of entries) append(ids, key, event.position);
    return {
      events: entries.map((e) => e.event),
      ack: async () => {
        this.#checkOpen();
        await this.#ack(ids, `cannot acknowledge ${entries.length} entries of redis stream(s) ${[...ids.keys()].join(', ')}`);
      },
    };
  }

  async #ack(ids: Map<string, string[]>, what: string): Promise<void> {
    for (const [key, list] of ids) await this.#call(['XACK', key, this.#settings.group, ...list], what);
  }

  /**
   * The next entries for this consumer, at most `count` per stream: its own pending ones while
   * there are any, then new ones, waiting for those up to `blockMs` (or until the next claim is
   * due). An empty list means none arrived in time.
   */
  async #read(state: ReadState, stop: AbortSignal, count: number, blockMs?: number): Promise<Entry[] | typeof STOPPED> {
    const { group } = this.#settings;
    const keys = [...this.#topics.keys()];
    for (;;) {
      if (state.history) {
        const args = ['XREADGROUP', 'GROUP', group, this.#options.consumer, 'COUNT', String(count), 'STREAMS', ...keys];
        const reply = await untilStopped(
          this.#call([...args, ...keys.map((k) => state.cursors.get(k)!)], `cannot re-read pending entries of group '${group}'`),
          stop,
        );
        if (reply === STOPPED) return STOPPED;
        const { entries, gone, last } = this.#parse(reply);
        for (const [key, id] of last) state.cursors.set(key, id);
        if (gone.size > 0) await this.#ack(gone, `cannot acknowledge entries deleted from their redis stream`);
        if (entries.length > 0) return entries;
        if (last.size === 0) state.history = false;
        continue;
      }
      const block = Math.max(1, Math.min(blockMs ?? Infinity, state.nextClaimAt - Date.now()));
      const args = ['XREADGROUP', 'GROUP', group, this.#options.consumer, 'COUNT', String(count), 'BLOCK', String(block), 'STREAMS'];
      const reply = await untilStopped(
        this.#call(
          [...args, ...keys, ...keys.map(() => '>')],
          `cannot read redis stream(s) ${keys.join(', ')} for group '${group}'`,
          block,
        ),
        stop,
      );
      if (reply === STOPPED) {
        // The blocked read still holds the connection, and may yet deliver entries to this
        // consumer; they stay pending and are read again first by the next iteration.
        this.#discard();
        return STOPPED;
      }
      return this.#parse(reply).entries;
    }
  }

  /**
   * Claims, for this consumer, up to `count` entries per stream that have been pending at least
   * `claimIdleMs` with any consumer of the group. True when it claimed some, so more may remain.
   */
  async #claim(count: number): Promise<boolean> {
    let claimed = false;
    const { group } = this.#settings;
    for (const key of this.#topics.keys()) {
      const reply = (await this.#call(
        ['XAUTOCLAIM', key, group, this.#options.consumer, String(this.#options.claimIdleMs), '0-0', 'COUNT', String(count), 'JUSTID'],
        `cannot claim idle entries of redis stream '${key}' for group '${group}'`,
      )) as [string, string[]];
      if (reply[1].length > 0) claimed = true;
    }
    return claimed;
  }

  /** Splits an XREADGROUP reply into events, ids of entries no longer in their stream, and the last id per stream. */
  #parse(reply: unknown): { entries: Entry[]; gone: Map<string, string[]>; last: Map<string, string> } {
    const entries: Entry[] = [];
    const gone = new Map<string, string[]>();
    const last = new Map<string, string>();
    for (const [key, items] of (reply ?? []) as [string, [string, string[] | null][]][]) {
      const topic = this.#topics.get(key) ?? key;
      for (const [id, flat] of items) {
        last.set(key, id);
        if (flat === null) append(gone, key, id);
        else entries.push({ key, event: toEvent(topic, id, flat) });
      }
    }
    return { entries, gone, last };
  }

  #startCursors(): Map<string, string> {
    return new Map([...this.#topics.keys()].map((k) => [k, '0']));
  }

  /** Sends one command, waiting at most `timeoutMs` (plus `blockMs` for a blocking read). */
  async #call(args: string[], what: string, blockMs = 0): Promise<unknown> {
    const client = await this.#connect(what);
    try {
      return await withTimeout(client.call(args[0]!, args.slice(1)), this.#options.timeoutMs + blockMs);
    } catch (cause) {
      // No reply in time: the command may still be queued for after a reconnect; dropping the
      // client aborts it.
      if (!isReplyError(cause) && this.#client === client) this.#discard();
      throw this.#classify(withoutCommand(cause), what);
    }
  }

  async #connect(what: string): Promise<RedisClient> {
    // A client that is reconnecting is kept: ioredis queues commands until it is ready again.
    if (this.#client && this.#client.status !== 'end') return this.#client;
    this.#Redis ??= await importPeer<RedisClass>('redis streams', ['ioredis'], () => import('ioredis').then((m) => m.Redis), 'subscriber');
    const client = new this.#Redis(redisClientOptions(this.#address, this.#options.connectTimeoutMs));
    // Listening keeps ioredis from printing each failure, and keeps the reason a connection
    // failed (connect() itself only says it was closed).
    let failure: unknown;
    client.on('error', (err: unknown) => (failure = err));
    this.#client = client;
    try {
      await withTimeout(client.connect(), this.#options.connectTimeoutMs);
    } catch (cause) {
      this.#discard();
      const reason = messageOf(withoutCommand(failure ?? cause));
      throw new HeraldError(
        ErrorCodes.BROKER_UNAVAILABLE,
        `${what}: redis at ${this.#address.display} unavailable: ${reason}; check the address, the url's credentials and that the server is running`,
        { cause: withoutCommand(failure ?? cause), retryable: true },
      );
    }
    if (this.#closing.signal.aborted) {
      // close() ran while this client was connecting; it must not outlive the subscriber.
      this.#discard();
      this.#checkOpen();
    }
    return client;
  }

  #discard(): void {
    const client = this.#client;
    this.#client = undefined;
    client?.disconnect();
  }

  #checkOpen(): void {
    if (this.#closing.signal.aborted) throw new HeraldError(ErrorCodes.CLOSED, 'redis streams subscriber is closed');
  }

  /**
   * Turns a client error into a HeraldError: anything that is not a server reply (refused or lost
   * connection, timeout) means the server could not be reached; `NOGROUP` means the stream or the
   * group is gone; `WRONGTYPE` that the key holds something else.
   */
  #classify(cause: unknown, what: string): HeraldError {
    const reason = messageOf(cause);
    if (this.#closing.signal.aborted) return new HeraldError(ErrorCodes.CLOSED, `${what}: redis streams subscriber is closed`, { cause });
    if (!isReplyError(cause)) {
      return new HeraldError(
        ErrorCodes.BROKER_UNAVAILABLE,
        `${what}: redis at ${this.#address.display} unavailable: ${reason}; check the address and that the server is running`,
        { cause, retryable: true },
      );
    }
    if (reason.startsWith('NOGROUP')) {
      return new HeraldError(
        ErrorCodes.TOPIC_NOT_FOUND,
        `${what}: the stream or its consumer group '${this.#settings.group}' does not exist; run prepare() with createSubscriptions`,
        { cause },
      );
    }
    if (reason.startsWith('WRONGTYPE')) {
      return new HeraldError(
        ErrorCodes.CONFIG_INVALID,
        `${what}: the key holds something other than a stream; choose another keyPrefix or topic`,
        {
          cause,
        },
      );
    }
    return new HeraldError(ErrorCodes.BROKER_UNAVAILABLE, `${what}: ${reason}`, { cause, retryable: true });
  }
}

function invalid(option: string, rule: string): never {
  throw new HeraldError(ErrorCodes.CONFIG_INVALID, `redis streams subscriber option '${option}' must be ${rule}`, { details: { option } });
}

function append(lists: Map<string, string[]>, key: string, value: string): void {
  const list = lists.get(key);
  if (list) list.push(value);
  else lists.set(key, [value]);
}

/** A flat `[name, value, ...]` reply as a record. */
function fieldsOf(flat: unknown[]): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) fields[String(flat[i])] = flat[i + 1];
  return fields;
}

/**
 * An entry as the publisher writes it: `data`, the event id as `id`, `content-type` and `ce_*`
 * attributes. The `id` field is passed on as `ce_id`, last, so that it wins over a `ce_id` field.
 */
function toEvent(topic: string, entryId: string, flat: string[]): IncomingEvent {
  const headers: [string, string][] = [];
  let data = '';
  let id: string | undefined;
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = flat[i]!;
    const value = flat[i + 1]!;
    if (name === 'data') data = value;
    else if (name === 'id') id = value;
    else headers.push([name, value]);
  }
  if (id !== undefined) headers.push(['ce_id', id]);
  return decodeIncoming(topic, entryId, headers, 'ce_', data);
}
