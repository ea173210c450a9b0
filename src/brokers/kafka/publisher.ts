import { randomUUID } from 'node:crypto';
import { HeraldError, ErrorCodes, messageOf } from '../../errors.js';
import { importPeer } from '../peer.js';
import { bounded } from '../bounded.js';
import { maskCredentials } from '../mask.js';
import { ceAttributes, reportDelivered, type OutgoingEvent, type Publisher } from '../publisher.js';
import { partitionKey, storedPartitions } from './produced.js';

/** Options of {@link KafkaPublisher}. Defaults are in {@link kafkaDefaults}. */
export interface KafkaPublisherOptions {
  /** `kafka://host:port[,host:port...]`, or a list of `host:port`. */
  readonly brokers: string | readonly string[];
  readonly clientId?: string;
  /** Create missing topics in `prepare()` instead of failing. Default false. */
  readonly createTopics?: boolean;
  /** Partitions of topics Herald creates. Default 4. */
  readonly partitions?: number;
  /** Per-request timeout in milliseconds. Default 10000. */
  readonly timeoutMs?: number;
  /** Attempts the client makes for one request before reporting failure. Default 3. */
  readonly retries?: number;
  /**
   * Longest wait for the acknowledgement of one batch, in ms. Past it the producer is discarded
   * and the batch reported as `BROKER_UNAVAILABLE`. Keep it below half the relay lease. Default 10000.
   */
  readonly ackTimeoutMs?: number;
  /**
   * Publish each batch as one Kafka transaction under a transactional id that belongs to the
   * relay's lease, so that the broker fences a relay that stalled past its lease (see
   * {@link KafkaPublisher.fence}). Consumers must read with `isolation.level=read_committed` (the
   * default of Herald's subscriber, of librdkafka and of `kcat`) to skip aborted batches. Default true.
   */
  readonly transactions?: boolean;
}

/** The defaults of {@link KafkaPublisherOptions}, in one table. */
export const kafkaDefaults = {
  clientId: 'herald-relay',
  createTopics: false,
  partitions: 4,
  timeoutMs: 5_000,
  retries: 3,
  ackTimeoutMs: 10_000,
  transactions: true,
} as const;

type KafkaModule = typeof import('@platformatic/kafka');
type Producer = import('@platformatic/kafka').Producer<string, string, string, string>;

/**
 * Publishes to Apache Kafka with `@platformatic/kafka` (an optional peer dependency).
 *
 * - Durability: idempotent producer with `acks=all`; `publish` resolves after every partition
 *   leader has the records committed to its in-sync replicas.
 * - Ordering: message key = the event's partition key, so one key maps to one partition, and
 *   the idempotent producer keeps the order of a batch within a partition.
 * - CloudEvents Kafka binding, binary content mode: `data` is the value, attributes are `ce_*`
 *   headers and `content-type` is `application/json`. The event id (`ce_id`) is the dedup key.
 * - Partial refusals (without `transactions`): Kafka answers per partition, so when some
 *   partitions of a batch refuse their records (a record batch over the topic's
 *   `max.message.bytes`, say) the rejection reports the events of the partitions that stored
 *   theirs (`reportDelivered`); a timeout reports none. With `transactions` a refused batch is
 *   never committed, so a `read_committed` consumer sees none of it and nothing is reported.
 * - Fencing (`transactions`, on by default): each batch is one transaction (begin, send, commit)
 *   of a producer whose transactional id is the relay's lease identity. A relay that takes over a
 *   lease from a stalled relay first initialises a producer with the stalled relay's id: the broker
 *   aborts that relay's open transaction and refuses its later commits (`PRODUCER_FENCED`), which
 *   `publish` reports as `LEASE_LOST`. With the logical source the id belongs to the slot, so the
 *   next holder of the slot fences the previous one just by starting.
 */
export class KafkaPublisher implements Publisher {
  readonly name = 'kafka';
  readonly #options: Required<Omit<KafkaPublisherOptions, 'brokers'>> & { brokers: string[] };
  #kafka: KafkaModule | undefined;
  #producer: Producer | undefined;
  #closed = false;
  /** The transactional id batches are published under; set by the relay through {@link fence}. */
  #transactionalId: string | undefined;

  constructor(options: KafkaPublisherOptions) {
    this.#options = { ...kafkaDefaults, ...options, brokers: parseKafkaBrokers(options.brokers) };
  }

  async prepare(topics: readonly string[]): Promise<void> {
    const kafka = await this.#module();
    const admin = new kafka.Admin({
      clientId: `${this.#options.clientId}-admin`,
      bootstrapBrokers: this.#options.brokers,
      timeout: this.#options.timeoutMs,
      retries: this.#options.retries,
    });
    try {
      const wanted = [...new Set(topics)];
      const existing = new Set(
        await admin.listTopics().catch((cause: unknown) => {
          throw this.#unreachable(cause);
        }),
      );
      const missing = wanted.filter((t) => !existing.has(t));
      if (missing.length === 0) return;
      if (!this.#options.createTopics) {
        throw new HeraldError(
          ErrorCodes.TOPIC_NOT_FOUND,
          `kafka topic '${missing[0]}' does not exist on ${this.#options.brokers.join(',')}; create it, map the contract to an existing topic, or pass --create-topics`,
          {
            details: { topics: missing },
          },
        );
      }
      await admin.createTopics({ topics: missing, partitions: this.#options.partitions, replicas: -1 }).catch((cause: unknown) => {
        // Another relay may have created it a moment ago (TOPIC_ALREADY_EXISTS); that is fine.
        if (!/already exists/i.test(describeKafkaError(cause))) throw classify(cause, `cannot create kafka topic(s) ${missing.join(', ')}`);
      });
    } finally {
      await admin.close().catch(() => undefined);
    }
  }

  /** With transactions, each call is a transaction: the relay sends each batch in one. */
  get wholeBatches(): boolean {
    return this.#options.transactions;
  }

  async publish(batch: readonly OutgoingEvent[]): Promise<void> {
    if (this.#closed) throw new HeraldError(ErrorCodes.CLOSED, 'kafka publisher is closed');
    if (batch.length === 0) return;
    // Built only when an error needs it: this is the relay's hot path.
    const what = (): string =>
      `cannot publish ${batch.length} event(s) to kafka (${[...new Set(batch.map((e) => `'${e.topic}'`))].join(', ')})`;
    if (this.#options.transactions) return this.#publishInTransaction(batch, what);
    const producer = await this.#connect(what);
    const messages = batch.map(toMessage);
    try {
      await this.#bounded(
        this.#assignPartitions(producer, messages).then(() => producer.send({ messages })),
        what,
      );
    } catch (cause) {
      // After a refused send the idempotent producer's sequence numbers no longer match the
      // broker's ("out of order sequence number" on the next send). A fresh producer id resets them.
      if (this.#producer === producer) {
        this.#producer = undefined;
        await forceClose(producer);
      }
      const error = cause instanceof HeraldError ? cause : classify(cause, what());
      // Partitions answer on their own: tell the relay which events are stored, so that it does
      // not send them again. A key has one partition, so this is all or none of a key's events.
      const stored = storedPartitions(cause);
      const delivered = messages.flatMap((m, i) =>
        m.partition !== undefined && stored.has(partitionKey(m.topic, m.partition)) ? [i] : [],
      );
      throw reportDelivered(error, delivered);
    }
  }

  /**
   * Gives every message its partition, chosen as the client would (its default partitioner over
   * the key, modulo the topic's partition count from the client's cached metadata), so that the
   * partitions of a refused send tell exactly which events were stored. Partition counts only
   * grow, and the client takes the number modulo the count it sees, so this stays the partition.
   */
  async #assignPartitions(producer: Producer, messages: KafkaMessage[]): Promise<void> {
    const kafka = await this.#module();
    const metadata = await producer.metadata({ topics: [...new Set(messages.map((m) => m.topic))] });
    for (const m of messages) {
      const count = metadata.topics.get(m.topic)?.partitionsCount;
      if (count !== undefined && count > 0) m.partition = kafka.defaultPartitioner(m, Buffer.from(m.key, 'utf-8')) % count;
    }
  }

  /**
   * Publishes as `identity` from now on, after fencing every producer of `previous`: for each, a
   * producer initialised with that transactional id makes the broker abort its open transaction
   * and bump its epoch, so that its later sends and commits are refused. Then makes sure a producer
   * of `identity` is initialised, and resolves `true` when it had to start one (see
   * {@link Publisher.fence}). Cheap when nothing changed. Without `transactions` there is nothing
   * the broker can fence, and this resolves `false` at once.
   */
  async fence(fencing: { readonly identity: string; readonly previous: readonly string[] }): Promise<boolean> {
    if (!this.#options.transactions) return false;
    if (this.#closed) throw new HeraldError(ErrorCodes.CLOSED, 'kafka publisher is closed');
    if (fencing.identity !== this.#transactionalId) {
      await this.#discard(this.#producer);
      this.#transactionalId = fencing.identity;
    }
    for (const id of fencing.previous) await this.#fenceOne(id);
    if (this.#producer) return false;
    const producer = await this.#newProducer(fencing.identity);
    this.#producer = producer;
    await this.#initialise(producer, () => `cannot start a kafka producer as '${fencing.identity}'`);
    return true;
  }

  /** Runs InitProducerId for the producer's transactional id (this fences its older sessions). */
  async #initialise(producer: Producer, what: () => string): Promise<void> {
    try {
      // Beginning a transaction initialises the producer id; the transaction is then dropped
      // locally, without anything sent in it.
      const transaction = await this.#bounded(producer.beginTransaction(), what);
      await transaction.cancel();
    } catch (cause) {
      await this.#discard(producer);
      throw cause instanceof HeraldError ? cause : classify(cause, what());
    }
  }

  /** Forgets `producer` (when it is the current one) and closes it, aborting its requests. */
  async #discard(producer: Producer | undefined): Promise<void> {
    if (producer === undefined) return;
    if (this.#producer === producer) this.#producer = undefined;
    await forceClose(producer);
  }

  async #fenceOne(transactionalId: string): Promise<void> {
    const fencer = await this.#newProducer(transactionalId);
    await this.#initialise(fencer, () => `cannot fence the stale kafka producer '${transactionalId}'`);
    await forceClose(fencer);
  }

  /**
   * One batch, one transaction. Any failure discards the producer: the next session initialises
   * the same transactional id again, which aborts whatever this one left open.
   */
  async #publishInTransaction(batch: readonly OutgoingEvent[], what: () => string): Promise<void> {
    const producer = await this.#transactionalProducer(what);
    const id = this.#transactionalId ?? '';
    try {
      const transaction = await this.#bounded(producer.beginTransaction(), what);
      await this.#bounded(transaction.send({ messages: batch.map(toMessage) }), what);
      await this.#bounded(transaction.commit(), what);
    } catch (cause) {
      await this.#discard(producer);
      if (cause instanceof HeraldError) throw cause;
      if (isFenced(cause))
        throw new HeraldError(
          ErrorCodes.LEASE_LOST,
          `${what()}: kafka fenced this relay's producer '${id}': another relay took over its lease; nothing of the batch was committed`,
          { cause, retryable: true },
        );
      throw classify(cause, what());
    }
  }

  /**
   * The producer of the current session. With a lease identity, only {@link fence} starts one
   * (the relay confirms the lease after it); without one (a source that does not lease), a
   * producer under an id of its own, which nobody will ever fence.
   */
  async #transactionalProducer(what: () => string): Promise<Producer> {
    if (this.#producer) return this.#producer;
    if (this.#transactionalId !== undefined)
      throw new HeraldError(
        ErrorCodes.LEASE_LOST,
        `${what()}: no producer session as '${this.#transactionalId}'; the relay starts one first`,
        {
          retryable: true,
        },
      );
    const id = `${this.#options.clientId}-${randomUUID()}`;
    const producer = await this.#newProducer(id);
    this.#producer = producer;
    await this.#initialise(producer, what);
    return producer;
  }

  /** A transactional producer for `transactionalId`; initialised by its first `beginTransaction`. */
  async #newProducer(transactionalId: string): Promise<Producer> {
    const kafka = await this.#module();
    return new kafka.Producer({
      clientId: this.#options.clientId,
      bootstrapBrokers: this.#options.brokers,
      idempotent: true,
      transactionalId,
      // InitProducerId with -1/-1 asks for the id's current producer whatever its epoch (KIP-360);
      // the client's default 0/0 would be refused as fenced by any id that was used before.
      producerId: -1n,
      producerEpoch: -1,
      acks: kafka.ProduceAcks.ALL,
      // Also the transaction timeout the client sends with InitProducerId: a transaction left open
      // by a relay that died is aborted by the broker after this long at most.
      timeout: Math.max(this.#options.timeoutMs, this.#options.ackTimeoutMs),
      retries: this.#options.retries,
      retryDelay: transactionRetryDelayMs,
      autocreateTopics: false,
      serializers: kafka.stringSerializers,
    });
  }

  /**
   * Waits for `operation` at most `ackTimeoutMs`. The client retries some failures (such as an
   * unreachable cluster while initialising the idempotent producer) without end; on timeout the
   * caller closes the producer, which aborts its requests, and the next publish starts a fresh one.
   */
  #bounded<T>(operation: Promise<T>, what: () => string): Promise<T> {
    return bounded(
      operation,
      this.#options.ackTimeoutMs,
      () =>
        new HeraldError(
          ErrorCodes.BROKER_UNAVAILABLE,
          `${what()}: no acknowledgement from ${this.#options.brokers.join(',')} within ${this.#options.ackTimeoutMs} ms; is the broker running?`,
          { retryable: true },
        ),
    );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#producer?.close().catch(() => undefined);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #module(): Promise<KafkaModule> {
    if (this.#kafka) return this.#kafka;
    this.#kafka = await importPeer('kafka', ['@platformatic/kafka'], () => import('@platformatic/kafka'));
    return this.#kafka;
  }

  async #connect(what: () => string): Promise<Producer> {
    if (this.#producer) return this.#producer;
    const kafka = await this.#module();
    const producer: Producer = new kafka.Producer({
      clientId: this.#options.clientId,
      bootstrapBrokers: this.#options.brokers,
      idempotent: true,
      acks: kafka.ProduceAcks.ALL,
      timeout: this.#options.timeoutMs,
      retries: this.#options.retries,
      autocreateTopics: false,
      serializers: kafka.stringSerializers,
    });
    this.#producer = producer;
    try {
      await this.#bounded(producer.initIdempotentProducer({}), what);
    } catch (cause) {
      if (this.#producer === producer) this.#producer = undefined;
      await forceClose(producer);
      throw cause instanceof HeraldError ? cause : classify(cause, what());
    }
    return producer;
  }

  #unreachable(cause: unknown): HeraldError {
    return new HeraldError(
      ErrorCodes.BROKER_UNAVAILABLE,
      `cannot reach kafka at ${this.#options.brokers.join(',')}: ${describeKafkaError(cause)}; check the address and that the broker is running`,
      { cause, retryable: true },
    );
  }
}

/** True when the broker refused a producer because a newer one with its transactional id exists. */
function isFenced(cause: unknown): boolean {
  return kafkaErrorChain(cause).some(
    (e) =>
      e.apiId === 'PRODUCER_FENCED' || e.apiId === 'INVALID_PRODUCER_EPOCH' || (e as { producerFenced?: boolean }).producerFenced === true,
  );
}

/** Closes a producer and aborts its requests; never rejects (the producer is discarded anyway). */
function forceClose(producer: Producer): Promise<void> {
  return new Promise((resolve) => producer.close(true, () => resolve()));
}

/** A message as Herald hands it to the client; `partition` is set just before sending. */
interface KafkaMessage {
  topic: string;
  key: string;
  value: string;
  headers: Map<string, string>;
  partition?: number;
}

function toMessage(e: OutgoingEvent): KafkaMessage {
  const headers = new Map<string, string>([['content-type', 'application/json']]);
  const attrs = e.event as unknown as Record<string, string | undefined>;
  for (const name of ceAttributes) {
    const value = attrs[name];
    if (value !== undefined) headers.set(`ce_${name}`, value);
  }
  return { topic: e.topic, key: e.event.partitionkey, value: e.data, headers };
}

/**
 * Turns a client error into a HeraldError. Network and timeout errors mean the cluster could not
 * be reached (`BROKER_UNAVAILABLE`); a protocol error the broker marks as not retryable (record
 * too large, unknown topic, authorisation) is `PUBLISH_REJECTED`; anything else may pass later.
 */
export function classify(cause: unknown, what: string): HeraldError {
  const leaves = kafkaErrorChain(cause);
  const reason = describeKafkaError(cause);
  if (leaves.some((e) => e.code === 'PLT_KFK_NETWORK' || e.code === 'PLT_KFK_TIMEOUT')) {
    return new HeraldError(ErrorCodes.BROKER_UNAVAILABLE, `${what}: broker unavailable: ${reason}`, { cause, retryable: true });
  }
  const unknownTopic = leaves.find((e) => e.apiId === 'UNKNOWN_TOPIC_OR_PARTITION');
  if (unknownTopic)
    return new HeraldError(ErrorCodes.TOPIC_NOT_FOUND, `${what}: topic does not exist; create it or pass --create-topics`, {
      cause,
      retryable: true,
    });
  if (leaves.some((e) => e.code === 'PLT_KFK_AUTHENTICATION' || (e.code === 'PLT_KFK_PROTOCOL' && e.canRetry === false))) {
    return new HeraldError(ErrorCodes.PUBLISH_REJECTED, `${what}: rejected by the broker: ${reason}`, { cause });
  }
  return new HeraldError(ErrorCodes.PUBLISH_FAILED, `${what}: ${reason}`, { cause, retryable: true });
}

/** The fields of a `@platformatic/kafka` error that Herald looks at. */
export interface ClientError {
  errors?: unknown[];
  code?: string;
  apiId?: string;
  canRetry?: boolean;
  message: string;
}

/** A client error and every error nested in it (`errors` of an aggregate, `cause`), outermost first. */
export function kafkaErrorChain(err: unknown, depth = 0): ClientError[] {
  if (err === null || typeof err !== 'object' || depth > 5) return [];
  const e = err as ClientError & { cause?: unknown };
  const nested = [...(Array.isArray(e.errors) ? e.errors : []), ...(e.cause === undefined ? [] : [e.cause])];
  return [e, ...nested.flatMap((n) => kafkaErrorChain(n, depth + 1))];
}

/** The client's own delay before it retries a failed request, in ms (`@platformatic/kafka`'s default). */
const CLIENT_RETRY_DELAY_MS = 1000;

/**
 * How long the transactional producer waits before it retries a request. A transaction begun
 * right after the previous one committed meets `CONCURRENT_TRANSACTIONS` on AddPartitionsToTxn
 * while the broker still writes the last one's commit markers (a few ms); waiting the client's
 * default second for that stalled the relay on a busy outbox (p50 commit → consumer 0.4–0.7 s at
 * 300 events/s), so that error is retried after 20, 40, 80 ms, as the Java producer does
 * promptly too. Every other error keeps the default.
 */
export function transactionRetryDelayMs(_client: unknown, _operation: string, attempt: number, _retries: number, error: unknown): number {
  const concurrent = kafkaErrorChain(error).some((e) => e.apiId === 'CONCURRENT_TRANSACTIONS');
  return concurrent ? Math.min(CLIENT_RETRY_DELAY_MS, 20 * 2 ** (attempt - 1)) : CLIENT_RETRY_DELAY_MS;
}

/** The distinct messages of a client error's innermost errors: its reason, without payloads. */
export function describeKafkaError(err: unknown): string {
  const leaves = kafkaErrorChain(err).filter((e) => !(Array.isArray(e.errors) && e.errors.length > 0));
  const messages = [...new Set((leaves.length > 0 ? leaves : kafkaErrorChain(err)).map((e) => e.message))];
  return messages.slice(0, 3).join('; ') || messageOf(err);
}

/** Parses `kafka://h1:9092,h2:9092` (or a list of `host:port`) into bootstrap addresses. */
export function parseKafkaBrokers(brokers: string | readonly string[]): string[] {
  const list =
    typeof brokers === 'string'
      ? brokers
          .replace(/^kafka:\/\//, '')
          .replace(/\/$/, '')
          .split(',')
      : [...brokers];
  const bad = list.find((b) => !/^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(b.trim()));
  if (list.length === 0 || bad !== undefined) {
    // A user:password@ part is not an address Herald can use, and must never be echoed back.
    const credentials = bad?.includes('@') === true;
    const shown = credentials ? maskCredentials(bad) : (bad ?? '');
    const hint = credentials ? '; credentials in a kafka:// URL are not supported, give host:port only' : '';
    throw new HeraldError(ErrorCodes.CONFIG_INVALID, `kafka address '${shown}' must be host:port, as in kafka://127.0.0.1:9092${hint}`, {
      details: { option: 'kafka' },
    });
  }
  return list.map((b) => b.trim());
}
