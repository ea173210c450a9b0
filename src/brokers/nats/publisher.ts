import { HeraldError, ErrorCodes, messageOf } from '../../errors.js';
import { importPeer } from '../peer.js';
import { maskCredentials } from '../mask.js';
import { ceAttributes, reportDelivered, type OutgoingEvent, type Publisher } from '../publisher.js';

/** Options of {@link NatsPublisher}. Defaults are in {@link natsDefaults}. */
export interface NatsPublisherOptions {
  /** `nats://host:port[,nats://host2:port]`; the port defaults to 4222. */
  readonly url: string;
  /** Connection name shown by the server's monitoring. Default `herald-relay`. */
  readonly name?: string;
  /**
   * The stream `prepare()` creates, or adds a missing subject to, when `createStreams` is on.
   * Default: one stream per topic, named after the topic with every character a stream name
   * cannot hold (`.`, `*`, `>`, spaces, slashes) replaced by `_`.
   */
  readonly stream?: string;
  /** Create a stream for a topic no stream captures, in `prepare()`, instead of failing. Default false. */
  readonly createStreams?: boolean;
  /** Timeout of connecting and of each JetStream API request (`prepare()`), in ms. Default 5000. */
  readonly timeoutMs?: number;
  /**
   * Longest wait for the acknowledgements of one whole batch, in ms. Past it the batch is reported
   * as `BROKER_UNAVAILABLE`. Keep it below half the relay lease. Default 10000.
   */
  readonly ackTimeoutMs?: number;
}

/** The defaults of {@link NatsPublisherOptions}, in one table. */
export const natsDefaults = {
  name: 'herald-relay',
  createStreams: false,
  timeoutMs: 5_000,
  ackTimeoutMs: 10_000,
} as const;

type TransportModule = typeof import('@nats-io/transport-node');
type JetStreamModule = typeof import('@nats-io/jetstream');
type NatsConnection = import('@nats-io/transport-node').NatsConnection;
type JetStreamClient = import('@nats-io/jetstream').JetStreamClient;
type JetStreamManager = import('@nats-io/jetstream').JetStreamManager;
type MsgHdrs = import('@nats-io/transport-node').MsgHdrs;

interface Modules {
  readonly transport: TransportModule;
  readonly jetstream: JetStreamModule;
}

interface Connection {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  /** False between the client's `disconnect` and `reconnect` events. */
  up: boolean;
}

/**
 * Publishes to NATS JetStream with `@nats-io/transport-node` and `@nats-io/jetstream` (optional
 * peer dependencies). Subject = topic; a JetStream stream must capture it (see `prepare`).
 *
 * - Durability: `publish` resolves after JetStream returned a PubAck for every event, that is after
 *   the stream stored it: on a quorum of its replicas for a replicated stream. A single server
 *   writes its file store to disk every `sync_interval` (2 minutes by default), so a power loss
 *   right after the ack can lose events there; use R3 streams or `sync_interval: always` where
 *   that matters. A PubAck marked `duplicate` counts as success: the stream already holds it.
 * - Ordering: events are published one after another in batch order, each after the previous one's
 *   PubAck, so the stream holds them in batch order; the first failure stops the batch.
 * - Deduplication: `Nats-Msg-Id` = the event id, so JetStream drops a retried event within the
 *   stream's duplicate window (2 minutes unless the stream says otherwise).
 * - CloudEvents NATS binding, binary mode: body = `data` bytes, attributes are `ce-*` headers and
 *   `content-type` is `application/json`.
 * - Rejects with `BROKER_UNAVAILABLE` (server unreachable, disconnected, no PubAck within
 *   `ackTimeoutMs`), `TOPIC_NOT_FOUND` (no stream captures the subject), `PUBLISH_REJECTED` (over
 *   the server's max_payload or the stream's max_msg_size; not retryable) or `PUBLISH_FAILED`
 *   (any other JetStream refusal, retryable). While the server is away the client reconnects by
 *   itself; publishes in the meantime reject at once, or once `ackTimeoutMs` has passed when the
 *   connection broke while they waited. A rejection reports the events acknowledged before the
 *   failure (`reportDelivered`), so that the relay does not send them again.
 */
export class NatsPublisher implements Publisher {
  readonly name = 'nats';
  readonly #options: Required<Omit<NatsPublisherOptions, 'url' | 'stream'>> & { stream: string | undefined };
  readonly #servers: string[];
  #modules: Modules | undefined;
  #connection: Connection | undefined;
  #connecting: Promise<Connection> | undefined;
  #closed = false;

  constructor(options: NatsPublisherOptions) {
    this.#servers = parseNatsServers(options.url);
    this.#options = { ...natsDefaults, ...options, stream: options.stream };
    for (const option of ['timeoutMs', 'ackTimeoutMs'] as const) {
      const value = this.#options[option];
      if (!Number.isFinite(value) || value <= 0) {
        throw new HeraldError(ErrorCodes.CONFIG_INVALID, `nats option ${option} must be a positive number of milliseconds`, {
          details: { option },
        });
      }
    }
    if (options.stream !== undefined && !isStreamName(options.stream)) {
      throw new HeraldError(
        ErrorCodes.CONFIG_INVALID,
        `nats stream name '${options.stream}' may not contain '.', '*', '>', spaces or slashes`,
        { details: { option: 'stream' } },
      );
    }
  }

  /** Checks that a stream captures each topic's subject, creating or extending one when `createStreams` is on. */
  async prepare(topics: readonly string[]): Promise<void> {
    if (this.#closed) throw new HeraldError(ErrorCodes.CLOSED, 'nats publisher is closed');
    const bad = topics.find((t) => !isLiteralSubject(t));
    if (bad !== undefined) {
      throw new HeraldError(
        ErrorCodes.CONFIG_INVALID,
        `nats subject '${bad}' must be dot-separated tokens without spaces or wildcards, as in orders.v1`,
        { details: { topic: bad } },
      );
    }
    const { nc } = await this.#connect();
    const { jetstream } = await this.#module();
    const jsm = await openJetStreamManager(jetstream, nc, this.#options.timeoutMs, this.#where());
    for (const topic of new Set(topics)) await this.#ensureStream(jsm, topic);
  }

  async #ensureStream(jsm: JetStreamManager, topic: string): Promise<void> {
    if (await this.#captured(jsm, topic)) return;
    const name = this.#options.stream ?? streamNameFor(topic);
    if (!this.#options.createStreams) {
      throw new HeraldError(
        ErrorCodes.TOPIC_NOT_FOUND,
        `no jetstream stream captures nats subject '${topic}' on ${this.#where()}; create one (nats stream add ${name} --subjects '${topic}'), map the contract to a captured subject, or pass --create-topics`,
        { details: { topic } },
      );
    }
    try {
      const existing = await jsm.streams.info(name).catch((cause: unknown) => {
        if (errorName(cause) === 'StreamNotFoundError') return undefined;
        throw cause;
      });
      if (existing) await jsm.streams.update(name, { subjects: [...(existing.config.subjects ?? []), topic] });
      else await jsm.streams.add({ name, subjects: [topic] });
    } catch (cause) {
      // Another relay may have created the stream a moment ago (name in use, subjects overlap);
      // that is fine as long as the subject is captured now.
      if (!(await this.#captured(jsm, topic))) {
        throw classify(cause, `cannot create jetstream stream '${name}' for nats subject '${topic}' on ${this.#where()}`);
      }
    }
  }

  async #captured(jsm: JetStreamManager, topic: string): Promise<boolean> {
    try {
      for await (const stream of jsm.streams.names(topic)) if (stream) return true;
      return false;
    } catch (cause) {
      throw classify(cause, `cannot list the jetstream streams of nats subject '${topic}' on ${this.#where()}`);
    }
  }

  async publish(batch: readonly OutgoingEvent[]): Promise<void> {
    if (this.#closed) throw new HeraldError(ErrorCodes.CLOSED, 'nats publisher is closed');
    if (batch.length === 0) return;
    const deadline = Date.now() + this.#options.ackTimeoutMs;
    const connection = await this.#connect();
    const { transport } = await this.#module();
    // One at a time, each after the previous PubAck. Pipelining would keep the stream in batch
    // order only while nothing fails: if event i were refused or lost (a stream leader change, a
    // full stream) while i+1 was stored, the relay's retry would store i after i+1 and break the
    // key's order. Stopping at the first failure means every retry re-sends a stored prefix,
    // which `Nats-Msg-Id` turns into duplicates, and then continues in order.
    for (const [i, e] of batch.entries()) {
      const what = (): string => `cannot publish event ${i + 1} of ${batch.length} to nats subject '${e.topic}' on ${this.#where()}`;
      // The client discards what was sent while disconnected when it reconnects, so such a
      // publish could only wait for its deadline; failing now lets the caller back off instead.
      // Events before `i` have their PubAck: the rejection says so, and the caller does not send them again.
      const acked = (): number[] => Array.from({ length: i }, (_, j) => j);
      if (!connection.up) {
        throw reportDelivered(
          new HeraldError(ErrorCodes.BROKER_UNAVAILABLE, `${what()}: disconnected; the client is reconnecting`, { retryable: true }),
          acked(),
        );
      }
      const timeout = deadline - Date.now();
      if (timeout <= 0) throw reportDelivered(this.#noAck(what()), acked());
      try {
        await connection.js.publish(e.topic, e.data, { msgID: e.event.id, headers: toHeaders(transport, e), timeout });
      } catch (cause) {
        if (this.#closed) throw new HeraldError(ErrorCodes.CLOSED, 'nats publisher was closed while publishing', { cause });
        throw reportDelivered(errorName(cause) === 'TimeoutError' ? this.#noAck(what(), cause) : classify(cause, what()), acked());
      }
    }
  }

  /** Closes the connection; idempotent. Publishes still waiting reject with `CLOSED`. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const connection = this.#connection ?? (await this.#connecting?.catch(() => undefined));
    this.#connection = undefined;
    await connection?.nc.close().catch(() => undefined);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #module(): Promise<Modules> {
    return (this.#modules ??= await importPeer<Modules>('nats', ['@nats-io/transport-node', '@nats-io/jetstream'], () =>
      Promise.all([import('@nats-io/transport-node'), import('@nats-io/jetstream')]).then(([transport, jetstream]) => ({
        transport,
        jetstream,
      })),
    ));
  }

  /** One shared connection; concurrent callers wait for the same attempt. */
  async #connect(): Promise<Connection> {
    if (this.#connection && !this.#connection.nc.isClosed()) return this.#connection;
    this.#connecting ??= this.#open().finally(() => (this.#connecting = undefined));
    return this.#connecting;
  }

  async #open(): Promise<Connection> {
    const { transport, jetstream } = await this.#module();
    // Publishes during an outage fail at once (see publish), and the same connection serves again
    // as soon as the server is back.
    const nc = await connectNats(transport, this.#servers, this.#options.name, this.#options.timeoutMs);
    if (this.#closed) {
      await nc.close().catch(() => undefined);
      throw new HeraldError(ErrorCodes.CLOSED, 'nats publisher is closed');
    }
    const connection: Connection = { nc, js: jetstream.jetstream(nc, { timeout: this.#options.timeoutMs }), up: true };
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect') connection.up = false;
        else if (s.type === 'reconnect') connection.up = true;
      }
    })().catch(() => undefined);
    this.#connection = connection;
    return connection;
  }

  #noAck(what: string, cause?: unknown): HeraldError {
    return new HeraldError(
      ErrorCodes.BROKER_UNAVAILABLE,
      `${what}: no acknowledgement within ${this.#options.ackTimeoutMs} ms; is nats-server running with jetstream?`,
      { cause, retryable: true },
    );
  }

  #where(): string {
    return this.#servers.join(',');
  }
}

/**
 * Connects to `servers`, reconnecting after an outage for as long as it takes. Rejects with a
 * retryable `BROKER_UNAVAILABLE` when no server answers within `timeoutMs`.
 */
export async function connectNats(transport: TransportModule, servers: string[], name: string, timeoutMs: number): Promise<NatsConnection> {
  return transport.connect({ servers, name, timeout: timeoutMs, maxReconnectAttempts: -1 }).catch((cause: unknown) => {
    throw new HeraldError(
      ErrorCodes.BROKER_UNAVAILABLE,
      `cannot reach nats at ${servers.join(',')}: ${describe(cause)}; check the address and that nats-server is running`,
      { cause, retryable: true },
    );
  });
}

/** The JetStream manager of `nc`; a server without JetStream is a `CONFIG_INVALID` saying how to enable it. */
export async function openJetStreamManager(
  jetstream: JetStreamModule,
  nc: NatsConnection,
  timeoutMs: number,
  where: string,
): Promise<JetStreamManager> {
  return jetstream.jetstreamManager(nc, { timeout: timeoutMs }).catch((cause: unknown) => {
    if (errorName(cause) === 'JetStreamNotEnabled') {
      throw new HeraldError(
        ErrorCodes.CONFIG_INVALID,
        `jetstream is not enabled on nats at ${where}; start nats-server with -js (or a jetstream block in its config)`,
        { cause },
      );
    }
    throw classify(cause, `cannot reach jetstream on nats at ${where}`);
  });
}

function toHeaders(transport: TransportModule, e: OutgoingEvent): MsgHdrs {
  const h = transport.headers();
  h.set('content-type', 'application/json');
  const attrs = e.event as unknown as Record<string, string | undefined>;
  for (const name of ceAttributes) {
    const value = attrs[name];
    if (value !== undefined) h.set(`ce-${name}`, value);
  }
  return h;
}

/**
 * Turns a NATS client error into a HeraldError. A closed or lost connection and timeouts mean
 * the server could not be reached (`BROKER_UNAVAILABLE`); no responders on a JetStream subject
 * means no stream captures it (`TOPIC_NOT_FOUND`); a message too large, an invalid header or
 * subject, or a refused permission will not pass on retry (`PUBLISH_REJECTED`); any other
 * JetStream error may (`PUBLISH_FAILED`).
 */
export function classify(cause: unknown, what: string): HeraldError {
  const chain = causes(cause);
  const names = chain.map(errorName);
  const reason = describe(cause);
  if (names.includes('NoResponders')) {
    return new HeraldError(
      ErrorCodes.TOPIC_NOT_FOUND,
      `${what}: no jetstream stream captures the subject; create one or pass --create-topics`,
      { cause, retryable: true },
    );
  }
  if (names.some((n) => ['ClosedConnectionError', 'DrainingConnectionError', 'ConnectionError', 'TimeoutError'].includes(n))) {
    return new HeraldError(ErrorCodes.BROKER_UNAVAILABLE, `${what}: server unavailable: ${reason}`, { cause, retryable: true });
  }
  const tooLarge = chain.some((e) => (e as { code?: unknown }).code === jetStreamMessageTooLarge);
  if (
    tooLarge ||
    names.some((n) => ['InvalidArgumentError', 'InvalidSubjectError', 'PermissionViolationError', 'AuthorizationError'].includes(n))
  ) {
    return new HeraldError(ErrorCodes.PUBLISH_REJECTED, `${what}: rejected: ${reason}`, { cause });
  }
  return new HeraldError(ErrorCodes.PUBLISH_FAILED, `${what}: ${reason}`, { cause, retryable: true });
}

/** JetStream API error code of "message size exceeds maximum allowed" (the stream's max_msg_size). */
const jetStreamMessageTooLarge = 10054;

function causes(err: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let e = err; e !== undefined && e !== null && chain.length < 6; e = (e as { cause?: unknown }).cause) chain.push(e);
  return chain;
}

/** The client's error class name; the classes are not all exported, so they are told apart by name. */
export function errorName(err: unknown): string {
  return err instanceof Error ? err.name : '';
}

/** The messages of an error and its causes; the client's name subjects and limits, never payloads. */
export function describe(err: unknown): string {
  return [...new Set(causes(err).map(messageOf))].slice(0, 3).join(': ');
}

/**
 * Parses `nats://h1:4222,nats://h2:4222` into the server URLs the client takes; the port defaults
 * to 4222. Rejects anything else, credentials in the URL included, with `CONFIG_INVALID`.
 */
export function parseNatsServers(url: string): string[] {
  const list = url.split(',').map((s) => s.trim());
  const bad = list.find((s) => {
    const m = /^nats:\/\/(?:[A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\])(?::(\d{1,5}))?\/?$/.exec(s);
    return m === null || (m[1] !== undefined && (Number(m[1]) < 1 || Number(m[1]) > 65535));
  });
  if (bad !== undefined) {
    throw new HeraldError(
      ErrorCodes.CONFIG_INVALID,
      `nats url '${maskCredentials(bad)}' must be nats://host:port, as in nats://127.0.0.1:4222 (several separated by commas)`,
      { details: { option: 'url' } },
    );
  }
  return list.map((s) => s.replace(/\/$/, ''));
}

/** Whether `subject` is dot-separated tokens without spaces or wildcards, as a topic must be. */
export function isLiteralSubject(subject: string): boolean {
  return subject.split('.').every((token) => token.length > 0 && !/[\s*>]/.test(token));
}

function isStreamName(name: string): boolean {
  return /^[^\s.*>/\\]+$/.test(name);
}

function streamNameFor(topic: string): string {
  return topic.replace(/[\s.*>/\\]/g, '_');
}
