import { HeraldError, ErrorCodes, messageOf } from '../../errors.js';
import { importPeer } from '../peer.js';
import { maskCredentials } from '../mask.js';
import { bounded } from '../bounded.js';
import { ceAttributes, reportDelivered, type OutgoingEvent, type Publisher } from '../publisher.js';

/** Options of {@link RedisStreamsPublisher}. Defaults are in {@link redisStreamsDefaults}. */
export interface RedisStreamsPublisherOptions {
  /** `redis://[[user]:password@]host[:port][/db]`. The password never appears in messages. */
  readonly url: string;
  /** Prepended to each topic to make the stream key, e.g. `events:`. Default none. */
  readonly keyPrefix?: string;
  /**
   * Trim each stream to about this many entries (`XADD ... MAXLEN ~ n`) on every append.
   * Trimmed entries are gone for consumers that had not read them yet. Default: no trimming.
   */
  readonly maxLen?: number;
  /** Longest wait for the connection and its handshake, in ms. Default 5000. */
  readonly connectTimeoutMs?: number;
  /**
   * Longest wait for the replies to one batch, in ms. Past it the connection is discarded and the
   * batch reported as `BROKER_UNAVAILABLE`. Keep it below half the relay lease. Default 10000.
   */
  readonly ackTimeoutMs?: number;
}

/** The defaults of {@link RedisStreamsPublisherOptions}, in one table. */
export const redisStreamsDefaults = {
  keyPrefix: '',
  maxLen: undefined as number | undefined,
  connectTimeoutMs: 5_000,
  ackTimeoutMs: 10_000,
} as const;

type RedisClass = typeof import('ioredis').Redis;
type RedisClient = import('ioredis').Redis;
interface Settings {
  keyPrefix: string;
  maxLen: number | undefined;
  connectTimeoutMs: number;
  ackTimeoutMs: number;
}

/** Where and how to connect, parsed from {@link RedisStreamsPublisherOptions.url}. */
export interface RedisAddress {
  readonly host: string;
  readonly port: number;
  readonly db: number;
  readonly username?: string;
  readonly password?: string;
  /** `redis://host:port/db`, without credentials: the only form used in messages. */
  readonly display: string;
}

/**
 * Publishes to Redis Streams with `ioredis` (an optional peer dependency). The stream key is
 * `keyPrefix + topic`; a stream is created by its first `XADD`.
 *
 * - Each event is one entry, `XADD <key> [MAXLEN ~ n] * id <event id> data <data> content-type
 *   application/json ce_specversion ... ce_traceparent`: `data` is stored byte for byte, the other
 *   CloudEvents attributes are `ce_*` fields.
 * - Acknowledgement: a batch is sent as one pipeline (one round trip, no MULTI) and `publish`
 *   resolves after every `XADD` has replied with its entry id. That reply means the entry is in
 *   the server's memory: it survives a crash only as far as the server's persistence keeps it
 *   (every acknowledged entry with `appendonly yes` and `appendfsync always`; RDB snapshots lose
 *   the latest ones), and Herald does not `WAIT` for replicas.
 * - Ordering: one stream per topic, appended in batch order, so every key keeps its order.
 * - Deduplication: Redis Streams have none. The entry's `id` field carries the event id for
 *   consumers to deduplicate on; a retried batch may append an event twice.
 * - Errors: no connection, a lost connection or no reply within `ackTimeoutMs` is
 *   `BROKER_UNAVAILABLE` (retryable); `WRONGTYPE` (the key holds another type), `NOPERM` and
 *   other `ERR` replies are `PUBLISH_REJECTED`; `OOM`, `READONLY`, `MISCONF`, `LOADING` and other
 *   replies that clear by themselves are `PUBLISH_FAILED` (retryable).
 * - The client reconnects by itself after a server restart; `close()` is idempotent.
 */
export class RedisStreamsPublisher implements Publisher {
  readonly name = 'redis-streams';
  readonly #options: Settings;
  readonly #address: RedisAddress;
  #Redis: RedisClass | undefined;
  #client: RedisClient | undefined;
  #closed = false;

  constructor(options: RedisStreamsPublisherOptions) {
    this.#address = parseRedisUrl(options.url);
    const merged = { ...redisStreamsDefaults, ...options };
    for (const option of ['connectTimeoutMs', 'ackTimeoutMs', 'maxLen'] as const) {
      const v = merged[option];
      if (v !== undefined && !(Number.isInteger(v) && v > 0)) {
        throw new HeraldError(ErrorCodes.CONFIG_INVALID, `redis streams option '${option}' must be a positive integer, got ${String(v)}`, {
          details: { option },
        });
      }
    }
    if (typeof merged.keyPrefix !== 'string') {
      throw new HeraldError(ErrorCodes.CONFIG_INVALID, `redis streams option 'keyPrefix' must be a string`, {
        details: { option: 'keyPrefix' },
      });
    }
    this.#options = {
      keyPrefix: merged.keyPrefix,
      maxLen: merged.maxLen,
      connectTimeoutMs: merged.connectTimeoutMs,
      ackTimeoutMs: merged.ackTimeoutMs,
    };
  }

  /**
   * Checks that the server answers and that no topic's key holds something other than a stream.
   * Missing streams are fine (the first `XADD` creates them). A key of another type is refused
   * with `CONFIG_INVALID` rather than `TOPIC_NOT_FOUND`: creating the stream is impossible without
   * deleting someone else's data, so the fix is another `keyPrefix` or topic, not creating it.
   */
  async prepare(topics: readonly string[]): Promise<void> {
    if (this.#closed) throw new HeraldError(ErrorCodes.CLOSED, 'redis streams publisher is closed');
    const keys = [...new Set(topics)].map((t) => this.#options.keyPrefix + t);
    if (keys.length === 0) return;
    const what = (): string => `cannot check redis stream(s) ${keys.map((k) => `'${k}'`).join(', ')}`;
    const client = await this.#connect(what);
    const pipeline = client.pipeline();
    for (const key of keys) pipeline.type(key);
    const replies = await this.#replies(client, pipeline.exec(), what);
    const clash = keys.findIndex((_, i) => replies[i] !== 'none' && replies[i] !== 'stream');
    if (clash >= 0) {
      throw new HeraldError(
        ErrorCodes.CONFIG_INVALID,
        `redis key '${keys[clash]}' on ${this.#address.display} holds a ${String(replies[clash])}, not a stream; choose another keyPrefix or map the topic elsewhere`,
        { details: { key: keys[clash], type: replies[clash] } },
      );
    }
  }

  async publish(batch: readonly OutgoingEvent[]): Promise<void> {
    if (this.#closed) throw new HeraldError(ErrorCodes.CLOSED, 'redis streams publisher is closed');
    if (batch.length === 0) return;
    // Built only when an error needs it: this is the relay's hot path.
    const what = (): string =>
      `cannot publish ${batch.length} event(s) to redis stream(s) ${[...new Set(batch.map((e) => `'${this.#options.keyPrefix}${e.topic}'`))].join(', ')}`;
    const client = await this.#connect(what);
    // MULTI/EXEC, not a plain pipeline: a command refused when queued (OOM, MISCONF) aborts the
    // whole batch, so a failed event is never followed by a stored later event of its key.
    const transaction = client.multi();
    for (const e of batch) transaction.call('XADD', ...this.#xaddArgs(e));
    await this.#replies(client, transaction.exec(), what, true);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const client = this.#client;
    this.#client = undefined;
    if (!client) return;
    // QUIT lets the server answer what is in flight; a dead connection is simply dropped.
    if (client.status === 'ready') await withTimeout(client.quit(), 1_000).catch(() => undefined);
    client.disconnect();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #xaddArgs(e: OutgoingEvent): string[] {
    const args = [this.#options.keyPrefix + e.topic];
    if (this.#options.maxLen !== undefined) args.push('MAXLEN', '~', String(this.#options.maxLen));
    args.push('*', 'id', e.event.id, 'data', e.data, 'content-type', 'application/json');
    const attrs = e.event as unknown as Record<string, string | undefined>;
    for (const name of ceAttributes) {
      const value = attrs[name];
      if (name !== 'id' && value !== undefined) args.push(`ce_${name}`, value);
    }
    return args;
  }

  /**
   * Waits for a pipeline's replies and turns any failed command into one HeraldError. With
   * `reportStored`, the error reports the commands that succeeded (`reportDelivered`): EXEC runs
   * every queued XADD, and one refused at run time (a key that is not a stream) fails on its own.
   * Such a refusal is about the stream key, so it refuses every event of that topic: what is
   * stored is, per partition key, all or nothing of the batch.
   */
  async #replies(
    client: RedisClient,
    exec: Promise<[error: Error | null, result: unknown][] | null>,
    what: () => string,
    reportStored = false,
  ): Promise<unknown[]> {
    let results: [Error | null, unknown][] | null;
    try {
      results = await withTimeout(exec, this.#options.ackTimeoutMs);
    } catch (cause) {
      // No reply in time: the commands may still sit in the client's offline queue and be sent
      // after a reconnect, long after the relay gave up on them. Dropping the client aborts them.
      this.#discard(client);
      throw this.#classify([withoutCommand(cause)], what());
    }
    const failures = (results ?? []).flatMap(([err]) => (err ? [withoutCommand(err)] : []));
    if (failures.length > 0) {
      const error = this.#classify(failures, what());
      throw reportStored
        ? reportDelivered(
            error,
            (results ?? []).flatMap(([err], i) => (err ? [] : [i])),
          )
        : error;
    }
    return (results ?? []).map(([, value]) => value);
  }

  async #module(): Promise<RedisClass> {
    return (this.#Redis ??= await importPeer<RedisClass>('redis streams', ['ioredis'], () => import('ioredis').then((m) => m.Redis)));
  }

  async #connect(what: () => string): Promise<RedisClient> {
    // A client that is reconnecting is kept: ioredis queues commands until it is ready again.
    if (this.#client && this.#client.status !== 'end') return this.#client;
    const Redis = await this.#module();
    const client = new Redis(redisClientOptions(this.#address, this.#options.connectTimeoutMs));
    // Failures also reach the commands that fail; listening keeps ioredis from printing each one,
    // and keeps the reason a connection failed (connect() itself only says it was closed).
    let failure: unknown;
    client.on('error', (err: unknown) => (failure = err));
    this.#client = client;
    try {
      await withTimeout(client.connect(), this.#options.connectTimeoutMs);
    } catch (cause) {
      this.#discard(client);
      throw this.#classify([withoutCommand(failure ?? cause)], what(), true);
    }
    if (this.#closed) {
      // close() ran while this client was connecting; it must not outlive the publisher.
      this.#discard(client);
      throw new HeraldError(ErrorCodes.CLOSED, 'redis streams publisher is closed');
    }
    return client;
  }

  #discard(client: RedisClient): void {
    if (this.#client === client) this.#client = undefined;
    client.disconnect();
  }

  /**
   * Turns client errors into one HeraldError. Anything that is not a reply from the server (a
   * refused or lost connection, a timeout, the client giving up on queued commands) means the
   * server could not be reached. So does any failure while connecting, even an authentication
   * reply: a relay then pauses and retries instead of dead-lettering every event. A server reply
   * is judged by its error prefix.
   */
  #classify(causes: unknown[], what: string, connecting = false): HeraldError {
    const cause = causes[0];
    const reason = [...new Set(causes.map(messageOf))].slice(0, 3).join('; ');
    const replies = causes.filter(isReplyError);
    if (connecting || replies.length < causes.length) {
      const hint = replies.length > 0 ? "check the url's user and password" : 'check the address and that the server is running';
      return new HeraldError(ErrorCodes.BROKER_UNAVAILABLE, `${what}: redis at ${this.#address.display} unavailable: ${reason}; ${hint}`, {
        cause,
        retryable: true,
      });
    }
    const permanent = replies.filter((e) => PERMANENT_REPLIES.has(e.message.split(' ', 1)[0]!));
    if (permanent.length > 0) {
      return new HeraldError(ErrorCodes.PUBLISH_REJECTED, `${what}: rejected by redis: ${messageOf(permanent[0])}`, {
        cause: permanent[0],
      });
    }
    return new HeraldError(ErrorCodes.PUBLISH_FAILED, `${what}: ${reason}`, { cause, retryable: true });
  }
}

/**
 * Error prefixes that retrying cannot fix: the key holds another type, the user may not write
 * it, or the command itself was refused. `OOM`, `READONLY` (failover), `MISCONF` (a failing save),
 * `LOADING` and `BUSY` clear by themselves, so they are not here.
 */
const PERMANENT_REPLIES = new Set(['WRONGTYPE', 'NOPERM', 'NOAUTH', 'WRONGPASS', 'ERR']);

/**
 * The ioredis options Herald connects with: not connected until `connect()`, and commands queued
 * while disconnected fail after one failed reconnection attempt instead of twenty, so a call
 * during an outage rejects quickly and the caller (relay, loader) retries it.
 */
export function redisClientOptions(address: RedisAddress, connectTimeoutMs: number): import('ioredis').RedisOptions {
  return {
    host: address.host,
    port: address.port,
    db: address.db,
    username: address.username,
    password: address.password,
    connectionName: 'herald',
    lazyConnect: true,
    connectTimeout: connectTimeoutMs,
    maxRetriesPerRequest: 1,
    retryStrategy: (times: number) => Math.min(times * 100, 1_000),
  };
}

/**
 * A copy of an ioredis error without its `command`, which holds the arguments: the XADD payload
 * and attributes, or the AUTH password. The copy can be kept as a `cause` and printed safely.
 */
export function withoutCommand(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const copy = new Error(err.message);
  copy.name = err.name;
  return copy;
}

/** Error replies from the server; ioredis makes them with the class name `ReplyError`. */
export function isReplyError(err: unknown): err is Error {
  return err instanceof Error && err.name === 'ReplyError';
}

/** {@link bounded}, rejecting with a plain error that the caller classifies. */
export function withTimeout<T>(operation: Promise<T>, ms: number): Promise<T> {
  return bounded(operation, ms, () => new Error(`no reply within ${ms} ms`));
}

/**
 * Parses `redis://[[user]:password@]host[:port][/db]`. Rejects anything else with `CONFIG_INVALID`
 * and a message that never repeats the password.
 */
export function parseRedisUrl(url: string): RedisAddress {
  // Everything up to the last '@' may be credentials, even in a string that is not a url.
  const redacted = maskCredentials(url);
  const invalid = (why: string): HeraldError =>
    new HeraldError(ErrorCodes.CONFIG_INVALID, `redis url '${redacted}' ${why}; expected redis://[:password@]host:port[/db]`, {
      details: { option: 'url' },
    });
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalid('is not a url');
  }
  if (parsed.protocol !== 'redis:') throw invalid(`has scheme '${parsed.protocol}'`);
  if (parsed.hostname === '') throw invalid('has no host');
  if (parsed.search !== '' || parsed.hash !== '') throw invalid('has a query or fragment');
  const db = /^\/?$/.test(parsed.pathname) ? 0 : /^\/\d{1,5}$/.test(parsed.pathname) ? Number(parsed.pathname.slice(1)) : NaN;
  if (Number.isNaN(db)) throw invalid('has a path that is not a database number');
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = parsed.port === '' ? 6379 : Number(parsed.port);
  return {
    host,
    port,
    db,
    ...(parsed.username === '' ? {} : { username: decodeURIComponent(parsed.username) }),
    ...(parsed.password === '' ? {} : { password: decodeURIComponent(parsed.password) }),
    display: `redis://${parsed.host}/${db}`,
  };
}
