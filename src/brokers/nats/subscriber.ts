import { HeraldError, ErrorCodes } from '../../errors.js';
import { bounded } from '../bounded.js';
import { decodeIncoming } from '../incoming.js';
import { classify, connectNats, describe, errorName, isLiteralSubject, openJetStreamManager, parseNatsServers } from './publisher.js';
import { importPeer } from '../peer.js';
import { BatchBuffer, subscriberSettings, type SubscriberSettings } from '../subscriber-buffer.js';
import type { Subscriber, SubscriberBatch, SubscriberOptions } from '../subscriber.js';

/** Options of {@link NatsSubscriber}; the shared ones default as in `subscriberDefaults`. */
export interface NatsSubscriberOptions extends SubscriberOptions {
  /** `nats://host:port[,nats://host2:port]`, as for the publisher; the port defaults to 4222. */
  readonly url: string;
}

type TransportModule = typeof import('@nats-io/transport-node');
type JetStreamModule = typeof import('@nats-io/jetstream');
type NatsConnection = import('@nats-io/transport-node').NatsConnection;
type JetStreamManager = import('@nats-io/jetstream').JetStreamManager;
type Consumer = import('@nats-io/jetstream').Consumer;
type ConsumerMessages = import('@nats-io/jetstream').ConsumerMessages;
type JsMsg = import('@nats-io/jetstream').JsMsg;

interface Modules {
  readonly transport: TransportModule;
  readonly jetstream: JetStreamModule;
}

/** Timeout of connecting, of each JetStream API request and of a batch's acks, in ms. */
const timeoutMs = 5_000;
/**
 * How long the server waits for an ack before delivering a message again, in ms: what a crashed
 * subscriber costs. Long enough for a loader to write a full batch; `close()` naks, so a subscriber
 * that stops in order costs nothing.
 */
const ackWaitMs = 30_000;
/** Life of one pull request, in ms; the client's 30 s default would hold a closed subscriber's request that long. */
const pullExpiresMs = 5_000;
/**
 * Delay of the naks `close()` sends, in ms. Until the connection is gone the server still holds
 * this subscriber's last pull request, and nats-server 2.9 redelivers an immediate nak into it,
 * where nobody listens, so the message would wait out the ack wait; a second is ample for the
 * connection to close first.
 */
const nakDelayMs = 1_000;

/**
 * Reads NATS JetStream with `@nats-io/transport-node` and `@nats-io/jetstream` (optional peer
 * dependencies) through a durable pull consumer per stream.
 *
 * - Consumers: each topic is a subject some stream captures; on each such stream, a durable pull
 *   consumer named `group` with explicit acks, delivering everything the stream holds, filtered on
 *   the topics (`filter_subjects`, which needs nats-server 2.10, when one stream holds several).
 *   `prepare()` checks them, or creates missing ones with `createSubscriptions` (ack wait 30 s).
 * - Order: a consumer delivers in stream order, so one subject keeps its publish order; a nak'd
 *   or timed-out message comes again after later ones may have been delivered.
 * - `ack()` acks each message and resolves once the server confirmed every ack; it rejects with
 *   `BROKER_UNAVAILABLE` when a confirmation does not come within 5 s.
 * - `close()` naks every message handed out or held but not acknowledged, so the group's next
 *   subscriber gets them about a second later; after a crash, or for a message in flight at the
 *   moment of closing, they come again once the ack wait (30 s) has passed.
 * - Events: position = `stream:sequence`; attributes from the `ce-` headers.
 */
export class NatsSubscriber implements Subscriber {
  readonly name = 'nats';
  readonly #settings: SubscriberSettings;
  readonly #servers: string[];
  #modules: Modules | undefined;
  #nc: NatsConnection | undefined;
  #connecting: Promise<NatsConnection> | undefined;
  /** The streams holding the topics, with the topics each holds; set by `prepare()`. */
  #streams = new Map<string, string[]>();
  #buffer: BatchBuffer<JsMsg> | undefined;
  /** Messages handed out or held and not yet acknowledged: what `close()` gives back. */
  readonly #unacked = new Set<JsMsg>();
  readonly #fetches = new Set<ConsumerMessages>();
  #pulls: Promise<void>[] = [];
  #prepared = false;
  #closed = false;
  readonly #stopped = new AbortController();

  constructor(options: NatsSubscriberOptions) {
    this.#servers = parseNatsServers(options.url);
    this.#settings = subscriberSettings('nats', options);
    const bad = this.#settings.topics.find((t) => !isLiteralSubject(t));
    if (bad !== undefined) {
      throw new HeraldError(
        ErrorCodes.CONFIG_INVALID,
        `nats subscriber topic '${bad}' must be dot-separated tokens without spaces or wildcards, as in orders.v1`,
        { details: { option: 'topics' } },
      );
    }
    if (!/^[^\s.*>/\\]+$/.test(this.#settings.group)) {
      throw new HeraldError(
        ErrorCodes.CONFIG_INVALID,
        `nats subscriber option 'group' is a durable consumer name and may not contain '.', '*', '>', spaces or slashes, got '${this.#settings.group}'`,
        { details: { option: 'group' } },
      );
    }
  }

  /**
   * Finds the stream of every topic and checks (or, with `createSubscriptions`, creates) the
   * durable consumer `group` on each. Rejects with `TOPIC_NOT_FOUND` naming the subject no stream
   * captures or the missing consumer, `BROKER_UNAVAILABLE` when the server cannot be reached.
   */
  async prepare(): Promise<void> {
    const nc = await this.#connect();
    const jsm = await openJetStreamManager((await this.#module()).jetstream, nc, timeoutMs, this.#where());
    const streams = new Map<string, string[]>();
    for (const topic of this.#settings.topics) {
      const stream = await this.#streamOf(jsm, topic);
      streams.set(stream, [...(streams.get(stream) ?? []), topic]);
    }
    for (const [stream, topics] of streams) await this.#ensureConsumer(jsm, stream, topics);
    this.#streams = streams;
    this.#prepared = true;
  }

  async #streamOf(jsm: JetStreamManager, topic: string): Promise<string> {
    try {
      for await (const stream of jsm.streams.names(topic)) if (stream) return stream;
    } catch (cause) {
      throw failure(cause, `cannot list the jetstream streams of nats subject '${topic}' on ${this.#where()}`);
    }
    throw new HeraldError(
      ErrorCodes.TOPIC_NOT_FOUND,
      `no jetstream stream captures nats subject '${topic}' on ${this.#where()}; create one (nats stream add <name> --subjects '${topic}') or subscribe to a captured subject`,
      { details: { topic } },
    );
  }

  async #ensureConsumer(jsm: JetStreamManager, stream: string, topics: string[]): Promise<void> {
    const group = this.#settings.group;
    const what = `nats consumer '${group}' of stream '${stream}' on ${this.#where()}`;
    const info = await jsm.consumers.info(stream, group).catch((cause: unknown) => {
      if (errorName(cause) === 'ConsumerNotFoundError') return undefined;
      throw failure(cause, `cannot check ${what}`);
    });
    if (!info) {
      if (!this.#settings.createSubscriptions) {
        throw new HeraldError(
          ErrorCodes.TOPIC_NOT_FOUND,
          `${what} does not exist; create it (nats consumer add ${stream} ${group} --pull --ack explicit --deliver all ${topics.map((t) => `--filter '${t}'`).join(' ')}) or set createSubscriptions`,
          { details: { stream, consumer: group } },
        );
      }
      const { AckPolicy, DeliverPolicy } = (await this.#module()).jetstream;
      await jsm.consumers
        .add(stream, {
          durable_name: group,
          ack_policy: AckPolicy.Explicit,
          deliver_policy: DeliverPolicy.All,
          ack_wait: ackWaitMs * 1_000_000,
          // Room for a full batch held by the loader and the next one arriving meanwhile.
          max_ack_pending: Math.max(1_000, 2 * this.#settings.maxBatch),
          ...(topics.length === 1 ? { filter_subject: topics[0] } : { filter_subjects: topics }),
        })
        .catch(async (cause: unknown) => {
          // Another loader may have created it a moment ago; that is fine.
          if (!(await jsm.consumers.info(stream, group).catch(() => undefined))) throw failure(cause, `cannot create ${what}`);
        });
      return;
    }
    const filters = info.config.filter_subjects ?? (info.config.filter_subject ? [info.config.filter_subject] : []);
    const reads = (list: string[]): string => (list.length === 0 ? 'every subject' : list.map((s) => `'${s}'`).join(', '));
    // A consumer filtering otherwise would hand out subjects nobody asked for, or never some asked for.
    if (filters.length !== topics.length || topics.some((t) => !filters.includes(t)) || info.config.deliver_subject) {
      throw new HeraldError(
        ErrorCodes.CONFIG_INVALID,
        `${what} ${info.config.deliver_subject ? 'is a push consumer' : `reads ${reads(filters)}`}, not ${reads(topics)} as a pull consumer; delete it (nats consumer rm ${stream} ${group}) or choose another group`,
        { details: { stream, consumer: group } },
      );
    }
  }

  /** Batches of at most `maxBatch` messages from every consumer; ends on `close()` or when `signal` aborts. */
  async *batches(signal?: AbortSignal): AsyncIterable<SubscriberBatch> {
    if (!this.#prepared) await this.prepare();
    const buffer = await this.#start();
    const { maxBatch, maxWaitMs } = this.#settings;
    for (;;) {
      const messages = await buffer.next(maxBatch, maxWaitMs, signal);
      if (messages === undefined) return;
      let acked: Promise<void> | undefined;
      yield {
        events: messages.map((m) =>
          decodeIncoming(m.subject, `${m.info.stream}:${m.info.streamSequence}`, headersOf(m), 'ce-', m.string()),
        ),
        ack: () => (acked ??= this.#ack(messages)),
      };
    }
  }

  async #ack(messages: readonly JsMsg[]): Promise<void> {
    const what = `cannot acknowledge ${messages.length} message(s) of nats consumer '${this.#settings.group}'`;
    if (this.#closed) throw new HeraldError(ErrorCodes.CLOSED, `${what}: the subscriber is closed; they will be delivered again`);
    const confirmed = Promise.all(messages.map((m) => m.ackAck({ timeout: timeoutMs })));
    await bounded(confirmed, timeoutMs + 1_000, () => new Error(`no confirmation within ${timeoutMs} ms`)).catch((cause: unknown) => {
      throw new HeraldError(ErrorCodes.BROKER_UNAVAILABLE, `${what}: ${describe(cause)}; they will be delivered again`, {
        cause,
        retryable: true,
      });
    });
    for (const m of messages) this.#unacked.delete(m);
  }

  /** Stops pulling, naks every unacknowledged message and closes the connection; idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopped.abort();
    this.#buffer?.end();
    for (const fetch of this.#fetches) fetch.stop();
    await Promise.all(this.#pulls);
    const nc = this.#nc ?? (await this.#connecting?.catch(() => undefined));
    this.#nc = undefined;
    if (!nc) return;
    for (const m of this.#unacked) m.nak(nakDelayMs);
    this.#unacked.clear();
    // The naks are plain publishes: flushed before the connection goes, or they would be lost.
    await bounded(nc.flush(), timeoutMs, () => new Error('flush timed out')).catch(() => undefined);
    await nc.close().catch(() => undefined);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Starts one pulling loop per consumer, the first time an iteration starts. */
  async #start(): Promise<BatchBuffer<JsMsg>> {
    if (this.#buffer) return this.#buffer;
    const nc = await this.#connect();
    const js = (await this.#module()).jetstream.jetstream(nc, { timeout: timeoutMs });
    const consumers: [string, Consumer][] = [];
    for (const stream of this.#streams.keys()) {
      const consumer = await js.consumers.get(stream, this.#settings.group).catch((cause: unknown) => {
        throw failure(cause, `cannot open nats consumer '${this.#settings.group}' of stream '${stream}' on ${this.#where()}`);
      });
      consumers.push([stream, consumer]);
    }
    if (this.#buffer) return this.#buffer;
    if (this.#closed) throw new HeraldError(ErrorCodes.CLOSED, 'nats subscriber is closed');
    const buffer = new BatchBuffer<JsMsg>();
    this.#buffer = buffer;
    this.#pulls = consumers.map(([stream, consumer]) => this.#pull(stream, consumer, buffer));
    return buffer;
  }

  /**
   * Pulls from `consumer` while the buffer has room for a batch. Pulling only then (not with
   * `consume()`, which refills as messages arrive) bounds what is held to about two batches.
   */
  async #pull(stream: string, consumer: Consumer, buffer: BatchBuffer<JsMsg>): Promise<void> {
    const { maxBatch } = this.#settings;
    while (!buffer.ended) {
      await buffer.room(maxBatch);
      if (buffer.ended) return;
      let fetch: ConsumerMessages | undefined;
      const started = Date.now();
      let received = 0;
      try {
        fetch = await consumer.fetch({ max_messages: maxBatch - buffer.size, expires: pullExpiresMs });
        this.#fetches.add(fetch);
        // close() may have stopped the others while this one was being set up.
        if (buffer.ended) fetch.stop();
        for await (const m of fetch) {
          received++;
          if (buffer.ended) {
            m.nak(nakDelayMs);
            continue;
          }
          this.#unacked.add(m);
          buffer.push(m);
        }
        // A pull the server ends at once without messages must not turn into a busy loop.
        if (received === 0 && Date.now() - started < 500) await pause(500, this.#stopped.signal);
      } catch (cause) {
        if (buffer.ended) return;
        const name = errorName(cause);
        if (name === 'ConsumerNotFoundError' || name === 'StreamNotFoundError') {
          buffer.fail(
            new HeraldError(
              ErrorCodes.TOPIC_NOT_FOUND,
              `nats consumer '${this.#settings.group}' of stream '${stream}' on ${this.#where()} no longer exists; create it again and restart`,
              { cause },
            ),
          );
          return;
        }
        // A lost connection or missed heartbeats: the client reconnects by itself; pull again soon.
        await pause(1_000, this.#stopped.signal);
      } finally {
        if (fetch) this.#fetches.delete(fetch);
      }
    }
  }

  async #module(): Promise<Modules> {
    return (this.#modules ??= await importPeer<Modules>(
      'nats',
      ['@nats-io/transport-node', '@nats-io/jetstream'],
      () =>
        Promise.all([import('@nats-io/transport-node'), import('@nats-io/jetstream')]).then(([transport, jetstream]) => ({
          transport,
          jetstream,
        })),
      'subscriber',
    ));
  }

  async #connect(): Promise<NatsConnection> {
    if (this.#closed) throw new HeraldError(ErrorCodes.CLOSED, 'nats subscriber is closed');
    if (this.#nc) return this.#nc;
    this.#connecting ??= (async () => {
      const nc = await connectNats((await this.#module()).transport, this.#servers, 'herald-subscriber', timeoutMs);
      if (this.#closed) {
        await nc.close().catch(() => undefined);
        throw new HeraldError(ErrorCodes.CLOSED, 'nats subscriber is closed');
      }
      this.#nc = nc;
      return nc;
    })().finally(() => (this.#connecting = undefined));
    return this.#connecting;
  }

  #where(): string {
    return this.#servers.join(',');
  }
}

function headersOf(m: JsMsg): [string, string][] {
  const h = m.headers;
  return h ? h.keys().map((k) => [k, h.get(k)] as [string, string]) : [];
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * A client error as a subscriber reports it: an unreachable server is `BROKER_UNAVAILABLE` (as for
 * the publisher), a subject no stream captures `TOPIC_NOT_FOUND`, an invalid request or refused
 * permission `CONFIG_INVALID`; anything else a retryable `BROKER_UNAVAILABLE`.
 */
function failure(cause: unknown, what: string): HeraldError {
  const known = classify(cause, what);
  if (known.code === ErrorCodes.BROKER_UNAVAILABLE || known.code === ErrorCodes.TOPIC_NOT_FOUND) return known;
  if (known.code === ErrorCodes.PUBLISH_REJECTED)
    return new HeraldError(ErrorCodes.CONFIG_INVALID, `${what}: ${describe(cause)}`, { cause });
  return new HeraldError(ErrorCodes.BROKER_UNAVAILABLE, `${what}: ${describe(cause)}`, { cause, retryable: true });
}
