import { HeraldError, ErrorCodes } from '../../errors.js';
import { importPeer } from '../peer.js';
import { bounded } from '../bounded.js';
import { decodeIncoming } from '../incoming.js';
import { describeKafkaError, kafkaErrorChain, parseKafkaBrokers } from './publisher.js';
import { BatchBuffer, STOPPED, subscriberSettings, untilStopped, type SubscriberSettings } from '../subscriber-buffer.js';
import type { Subscriber, SubscriberBatch, SubscriberOptions } from '../subscriber.js';

/** Options of {@link KafkaSubscriber}. Defaults are in {@link kafkaSubscriberDefaults}. */
export interface KafkaSubscriberOptions extends SubscriberOptions {
  /** `kafka://host:port[,host:port...]`, or a list of `host:port`. */
  readonly brokers: string | readonly string[];
  readonly clientId?: string;
  /** Per-request timeout in milliseconds. Default 5000. */
  readonly timeoutMs?: number;
  /** Attempts the client makes for one request before reporting failure. Default 3. */
  readonly retries?: number;
  /**
   * How long the group coordinator waits for a heartbeat before it gives a silent member's
   * partitions to the others, in ms. The broker accepts 6000 to 1800000 by default. Default 10000.
   */
  readonly sessionTimeoutMs?: number;
  /**
   * Longest wait for the members to rejoin during a rebalance, in ms; at least `sessionTimeoutMs`.
   * Default 10000, or `sessionTimeoutMs` when that is longer.
   */
  readonly rebalanceTimeoutMs?: number;
  /** Heartbeat period in ms: how fast a member notices a rebalance. Default 1000. */
  readonly heartbeatIntervalMs?: number;
}

/** The defaults of {@link KafkaSubscriberOptions}, in one table. */
export const kafkaSubscriberDefaults = {
  clientId: 'herald-loader',
  timeoutMs: 5_000,
  retries: 3,
  sessionTimeoutMs: 10_000,
  rebalanceTimeoutMs: 10_000,
  heartbeatIntervalMs: 1_000,
} as const;

interface Settings {
  readonly brokers: string[];
  readonly clientId: string;
  readonly timeoutMs: number;
  readonly retries: number;
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
}

type KafkaModule = typeof import('@platformatic/kafka');
type Consumer = import('@platformatic/kafka').Consumer<string, string, string, string>;
type Message = import('@platformatic/kafka').Message<string, string, string, string>;
type Stream = import('@platformatic/kafka').MessagesStream<string, string, string, string>;

/**
 * Reads Apache Kafka topics as one consumer group (`group`) with `@platformatic/kafka` (an
 * optional peer dependency), using the classic group protocol.
 *
 * - At least once: offsets are never committed automatically. `ack()` commits, for each partition
 *   of the batch, the offset after its highest message, so a member that stops before acking
 *   leaves those messages to the next member of the group. A group without a committed offset
 *   starts at the earliest message.
 * - Order: per partition, which is per partition key with Herald's publisher.
 * - The event is the CloudEvents Kafka binding: `ce_*` headers are the attributes, the value is
 *   `data`; a structured-mode message (`content-type: application/cloudevents+json`) is unpacked.
 *   Position is `partition:offset`.
 * - `prepare()` checks that every topic exists (`TOPIC_NOT_FOUND` otherwise); consumer groups need
 *   no creation. The group is joined when `batches()` starts.
 * - Errors: an unreachable cluster, no answer in time or a commit refused mid-rebalance is
 *   `BROKER_UNAVAILABLE` (retryable; the uncommitted messages come again); a topic deleted under
 *   a running iteration is `TOPIC_NOT_FOUND`.
 * - `close()` is idempotent, ends a running iteration at once and leaves the group, so its
 *   partitions move to the other members without waiting for the session to time out.
 */
export class KafkaSubscriber implements Subscriber {
  readonly name = 'kafka';
  readonly #settings: SubscriberSettings;
  readonly #options: Settings;
  readonly #closing = new AbortController();
  #kafka: KafkaModule | undefined;
  #consumer: Consumer | undefined;
  #closed: Promise<void> | undefined;
  /** How to fail each running iteration, for errors the consumer itself emits. */
  readonly #iterations = new Set<(cause: Error) => void>();
  /** The offsets this process committed last, per `topic:partition`: the base of {@link lag}. */
  readonly #committed = new Map<string, { topic: string; partition: number; offset: bigint }>();

  constructor(options: KafkaSubscriberOptions) {
    this.#settings = subscriberSettings('kafka', options);
    const d = kafkaSubscriberDefaults;
    const o: Settings = {
      brokers: parseKafkaBrokers(options.brokers),
      clientId: options.clientId ?? d.clientId,
      timeoutMs: options.timeoutMs ?? d.timeoutMs,
      retries: options.retries ?? d.retries,
      sessionTimeoutMs: options.sessionTimeoutMs ?? d.sessionTimeoutMs,
      rebalanceTimeoutMs: options.rebalanceTimeoutMs ?? Math.max(d.rebalanceTimeoutMs, options.sessionTimeoutMs ?? 0),
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? d.heartbeatIntervalMs,
    };
    for (const option of ['timeoutMs', 'sessionTimeoutMs', 'rebalanceTimeoutMs', 'heartbeatIntervalMs'] as const) {
      if (!(Number.isInteger(o[option]) && o[option] > 0)) invalid(option, 'a positive integer');
    }
    if (!(Number.isInteger(o.retries) && o.retries >= 0)) invalid('retries', 'a whole number, 0 or more');
    if (typeof o.clientId !== 'string' || o.clientId === '') invalid('clientId', 'a non-empty string');
    if (o.rebalanceTimeoutMs < o.sessionTimeoutMs) invalid('rebalanceTimeoutMs', 'at least sessionTimeoutMs');
    if (o.heartbeatIntervalMs >= o.sessionTimeoutMs) invalid('heartbeatIntervalMs', 'less than sessionTimeoutMs');
    this.#options = o;
  }

  /** Checks that every topic exists; rejects with `TOPIC_NOT_FOUND` naming the first missing one. */
  async prepare(): Promise<void> {
    this.#checkOpen();
    const kafka = await this.#module();
    const { brokers, clientId, timeoutMs, retries } = this.#options;
    const admin = new kafka.Admin({ clientId: `${clientId}-admin`, bootstrapBrokers: brokers, timeout: timeoutMs, retries });
    try {
      const what = `cannot list the topics of kafka at ${brokers.join(',')}`;
      const existing = new Set(await this.#bounded(admin.listTopics(), what).catch((cause: unknown) => this.#fail(cause, what)));
      const missing = this.#settings.topics.filter((t) => !existing.has(t));
      if (missing.length > 0) {
        throw new HeraldError(
          ErrorCodes.TOPIC_NOT_FOUND,
          `kafka topic '${missing[0]}' does not exist on ${brokers.join(',')}; create it or subscribe to an existing topic`,
          { details: { topics: missing } },
        );
      }
    } finally {
      await admin.close().catch(() => undefined);
    }
  }

  async *batches(signal?: AbortSignal): AsyncGenerator<SubscriberBatch> {
    this.#checkOpen();
    const stop = signal ? AbortSignal.any([signal, this.#closing.signal]) : this.#closing.signal;
    const joined = await this.#join(stop);
    if (joined === STOPPED) return;
    const { stream } = joined;
    const { maxBatch, maxWaitMs } = this.#settings;
    const buffer = new BatchBuffer<Message>();
    const consumer = this.#consumer!;
    // The stream fetches ahead; pausing it once a full batch waits keeps memory bounded.
    stream.on('data', (m: Message) => {
      // A fetch sent before a rebalance still returns the partitions this member just lost.
      // Their new owner reads them from the committed offset, and so does this member if it
      // gets them back (a join restarts the stream there), so dropping them loses nothing.
      if (!owns(consumer, m)) return;
      buffer.push(m);
      if (buffer.size >= maxBatch) stream.pause();
    });
    // The stream may have failed or closed already, between its creation and this line. Once the
    // caller stopped, a failure is the stream going down with the consumer: the iteration ends.
    const fail = (cause: Error): void =>
      stop.aborted ? buffer.end() : buffer.fail(this.#classify(cause, `cannot read kafka topic(s) ${this.#topicList()}`));
    joined.onError(fail);
    this.#iterations.add(fail);
    stream.on('close', () => buffer.end());
    if (stream.closed || stream.destroyed) buffer.end();
    try {
      for (;;) {
        const messages = await buffer.next(maxBatch, maxWaitMs, stop);
        if (messages === undefined) return;
        if (buffer.size < maxBatch && stream.isPaused()) stream.resume();
        yield this.#batch(messages);
      }
    } finally {
      this.#iterations.delete(fail);
      // Unacknowledged messages stay uncommitted; the next stream starts again from the
      // committed offsets, so an abandoned batch is handed out again.
      await closeStream(stream, this.#options.timeoutMs);
    }
  }

  /**
   * Per topic, the end offsets of the partitions this process committed offsets for, minus those
   * offsets (0 at the least): one ListOffsets request. A partition moved to another member by a
   * rebalance keeps its last value here until this process commits it again.
   */
  async lag(): Promise<ReadonlyMap<string, number>> {
    const lag = new Map<string, number>();
    const consumer = this.#consumer;
    if (!consumer || this.#committed.size === 0) return lag;
    const topics = [...new Set([...this.#committed.values()].map((c) => c.topic))];
    const what = `cannot read the end offsets of kafka topic(s) ${this.#topicList()}`;
    const ends = await this.#bounded(consumer.listOffsets({ topics, timestamp: -1n }), what);
    for (const c of this.#committed.values()) {
      const end = ends.get(c.topic)?.[c.partition];
      if (end === undefined) continue;
      lag.set(c.topic, (lag.get(c.topic) ?? 0) + Math.max(0, Number(end - c.offset)));
    }
    return lag;
  }

  async close(): Promise<void> {
    this.#closing.abort();
    this.#closed ??= (async () => {
      const consumer = this.#consumer;
      if (!consumer) return;
      // Leaving the group (rather than going silent) hands its partitions to the other
      // members at once. An unreachable coordinator must not hold close() up.
      const left = new Promise<void>((resolve) => consumer.close(true, () => resolve()));
      await bounded(left, this.#options.timeoutMs, () => new Error('leave timed out')).catch(() => undefined);
    })();
    await this.#closed;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Joins the group and starts a stream at the committed offsets (the earliest where none is). */
  async #join(stop: AbortSignal): Promise<WatchedStream | typeof STOPPED> {
    const kafka = await this.#module();
    // close() may have run meanwhile; a consumer made now would outlive the subscriber.
    if (stop.aborted) return STOPPED;
    const o = this.#options;
    this.#consumer ??= this.#newConsumer(kafka);
    const consumer = this.#consumer;
    const what = `cannot join kafka consumer group '${this.#settings.group}' for topic(s) ${this.#topicList()}`;
    // The callback form: it runs in the same tick as the stream's construction, so the stream has
    // an 'error' listener before it starts (it reads its offsets on the next tick, and fails there
    // when the consumer was closed meanwhile). A promise would hand it over too late.
    const consuming = new Promise<WatchedStream>((resolve, reject) => {
      consumer.consume(
        {
          topics: [...this.#settings.topics],
          mode: kafka.MessagesStreamModes.COMMITTED,
          fallbackMode: kafka.MessagesStreamFallbackModes.EARLIEST,
          autocommit: false,
        },
        (error, stream) =>
          error || !stream ? reject(error ?? new Error('no stream from the consumer')) : resolve(new WatchedStream(stream)),
      );
    });
    // A join waits for the other members to rejoin, at most the rebalance timeout.
    const joined = bounded(
      consuming,
      o.rebalanceTimeoutMs + o.timeoutMs * (o.retries + 1),
      () => new Error('no answer from the group coordinator'),
    );
    // A stream that arrives after the caller stopped waiting for it must not keep fetching. Its
    // own failures (on the closed consumer, say) are already heard by its WatchedStream.
    const abandon = (): void =>
      void consuming.then(
        (w) => closeStream(w.stream, o.timeoutMs),
        () => undefined,
      );
    const result = await untilStopped(joined, stop).catch((cause: unknown) => {
      abandon();
      return this.#fail(cause, what);
    });
    if (result === STOPPED) abandon();
    return result;
  }

  #newConsumer(kafka: KafkaModule): Consumer {
    const o = this.#options;
    const consumer: Consumer = new kafka.Consumer({
      clientId: o.clientId,
      bootstrapBrokers: o.brokers,
      groupId: this.#settings.group,
      timeout: o.timeoutMs,
      retries: o.retries,
      sessionTimeout: o.sessionTimeoutMs,
      rebalanceTimeout: o.rebalanceTimeoutMs,
      heartbeatInterval: o.heartbeatIntervalMs,
      autocommit: false,
      // The client's default too, said here because it matters: batches a fenced relay left
      // uncommitted (aborted Kafka transactions) are never handed to the loader.
      isolationLevel: kafka.FetchIsolationLevels.READ_COMMITTED,
      deserializers: kafka.stringDeserializers,
    });
    // The consumer emits 'error' when it cannot rejoin its group after a failed heartbeat; unheard,
    // that would end the process. The running iterations fail with it (retryable), and their
    // caller iterates again, which joins afresh; with none running, the next join will find out.
    consumer.on('error', (cause: Error) => {
      for (const fail of this.#iterations) fail(cause);
    });
    return consumer;
  }

  #batch(messages: Message[]): SubscriberBatch {
    return {
      events: messages.map((m) => decodeIncoming(m.topic, `${m.partition}:${m.offset}`, headersOf(m), 'ce_', m.value ?? '')),
      ack: async () => {
        this.#checkOpen();
        const next = new Map<string, { topic: string; partition: number; offset: bigint; leaderEpoch: number }>();
        for (const m of messages) {
          const key = `${m.topic}:${m.partition}`;
          const after = m.offset + 1n;
          // -1: the client keeps the leader epoch to itself; Kafka then stores the offset without
          // one, as it does for older clients.
          if ((next.get(key)?.offset ?? 0n) < after)
            next.set(key, { topic: m.topic, partition: m.partition, offset: after, leaderEpoch: -1 });
        }
        const what = `cannot commit the offsets of ${messages.length} message(s) of kafka topic(s) ${this.#topicList()} for group '${this.#settings.group}'`;
        await this.#bounded(this.#consumer!.commit({ offsets: [...next.values()] }), what).catch((cause: unknown) =>
          this.#fail(cause, what),
        );
        for (const [key, c] of next) this.#committed.set(key, c);
      },
    };
  }

  async #module(): Promise<KafkaModule> {
    this.#kafka ??= await importPeer('kafka', ['@platformatic/kafka'], () => import('@platformatic/kafka'), 'subscriber');
    return this.#kafka;
  }

  /** Waits for one request (with the client's retries) at most as long as those may take. */
  #bounded<T>(operation: Promise<T>, what: string): Promise<T> {
    const { timeoutMs, retries } = this.#options;
    return bounded(operation, (timeoutMs + 1_000) * (retries + 1), () => this.#classify(new Error('no answer in time'), what, true));
  }

  #fail(cause: unknown, what: string): never {
    throw cause instanceof HeraldError ? cause : this.#classify(cause, what);
  }

  /**
   * Turns a client error into a HeraldError: an unknown topic is `TOPIC_NOT_FOUND`; anything else
   * (no connection, a timeout, a rebalance or coordinator change mid-request) is
   * `BROKER_UNAVAILABLE`, retryable, since the same call may pass once the cluster settles.
   */
  #classify(cause: unknown, what: string, unreachable = false): HeraldError {
    if (this.#closing.signal.aborted) return new HeraldError(ErrorCodes.CLOSED, `${what}: kafka subscriber is closed`, { cause });
    const chain = kafkaErrorChain(cause);
    const reason = describeKafkaError(cause);
    if (!unreachable && chain.some((e) => e.apiId === 'UNKNOWN_TOPIC_OR_PARTITION' || /^unknown topic/i.test(e.message))) {
      return new HeraldError(ErrorCodes.TOPIC_NOT_FOUND, `${what}: ${reason}; create the topic or subscribe to an existing one`, { cause });
    }
    const network = unreachable || chain.some((e) => e.code === 'PLT_KFK_NETWORK' || e.code === 'PLT_KFK_TIMEOUT');
    const hint = network ? `; check the address (${this.#options.brokers.join(',')}) and that the broker is running` : '';
    return new HeraldError(ErrorCodes.BROKER_UNAVAILABLE, `${what}: ${reason}${hint}`, { cause, retryable: true });
  }

  #topicList(): string {
    return this.#settings.topics.map((t) => `'${t}'`).join(', ');
  }

  #checkOpen(): void {
    if (this.#closing.signal.aborted) throw new HeraldError(ErrorCodes.CLOSED, 'kafka subscriber is closed');
  }
}

function invalid(option: string, rule: string): never {
  throw new HeraldError(ErrorCodes.CONFIG_INVALID, `kafka subscriber option '${option}' must be ${rule}`, { details: { option } });
}

/** Whether the partition of `m` is assigned to this member of the group (true before any assignment is known). */
function owns(consumer: Consumer, m: Message): boolean {
  const assignments = consumer.assignments;
  return assignments === null || assignments.some((a) => a.topic === m.topic && a.partitions.includes(m.partition));
}

/** A message's headers as name/value pairs; a header without a value is left out. */
function headersOf(m: Message): [string, string][] {
  return [...m.headers].filter((h): h is [string, string] => typeof h[0] === 'string' && typeof h[1] === 'string');
}

/**
 * A messages stream with an 'error' listener from the moment it exists: a stream that fails with
 * no listener ends the process, and this one can fail before the join hands it to anyone. The
 * first error is kept for whoever reads the stream; later ones (while closing) have nobody to tell.
 */
class WatchedStream {
  #failure: Error | undefined;
  #onError: ((cause: Error) => void) | undefined;

  constructor(readonly stream: Stream) {
    stream.on('error', (cause: Error) => {
      if (this.#failure !== undefined) return;
      this.#failure = cause;
      this.#onError?.(cause);
    });
  }

  /** Calls `fn` with the stream's first error: at once when it already failed, or when it does. */
  onError(fn: (cause: Error) => void): void {
    this.#onError = fn;
    if (this.#failure !== undefined) fn(this.#failure);
  }
}

/** Closes a stream, waiting at most `ms`; never rejects (the stream is abandoned either way). */
async function closeStream(stream: Stream, ms: number): Promise<void> {
  await bounded(stream.close(), ms, () => new Error('stream close timed out')).catch(() => undefined);
}
