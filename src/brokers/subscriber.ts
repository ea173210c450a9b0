/**
 * The consuming side of a broker: what the warehouse loader (and any consumer) reads from.
 */

/** One message as a broker delivered it, with its CloudEvents attributes decoded but not checked. */
export interface IncomingEvent {
  /** The topic (Kafka topic, Pub/Sub topic, NATS subject, routing key, stream key) it came from. */
  readonly topic: string;
  /**
   * Where the broker holds the message, stable across redeliveries: `partition:offset` (Kafka),
   * the message id (Pub/Sub), `stream:sequence` (NATS), the entry id (Redis). RabbitMQ queues
   * have no positions; there it is the AMQP `message-id`.
   */
  readonly position: string;
  /**
   * The CloudEvents attributes the message carried, by their CloudEvents names (`id`, `type`,
   * `source`, `time`, `subject`, `dataschema`, `partitionkey`, `traceparent`, ...), from the binary
   * binding's headers or from a structured-mode envelope. Nothing is validated here: a message
   * from a non-Herald producer may lack any of them.
   */
  readonly attributes: Readonly<Record<string, string>>;
  /** The event's `data` as UTF-8 text, byte for byte as the broker stored it. */
  readonly data: string;
}

/**
 * A batch handed out by a {@link Subscriber}. Until `ack()` resolves, the broker still owes every
 * message of it: a subscriber that stops (or crashes) before acknowledging gets them again.
 */
export interface SubscriberBatch {
  readonly events: readonly IncomingEvent[];
  /**
   * Acknowledges the whole batch (Kafka: commits the next offset of each partition; Pub/Sub,
   * NATS, RabbitMQ: acks every message; Redis: `XACK`). Resolves when the broker has the ack.
   * Rejects with `BROKER_UNAVAILABLE` when it could not be delivered; the messages then come
   * again, which the loader's deduplication absorbs.
   */
  ack(): Promise<void>;
}

/**
 * The subscription port. At-least-once: every message is handed out until a batch containing it
 * is acknowledged, so a consumer that acknowledges only after its own commit never loses one.
 *
 * - `batches()` yields one batch at a time; the next is requested only after the consumer has
 *   acknowledged the previous one (the loader works that way, so no adapter needs to track
 *   several open batches). A batch holds at most `maxBatch` events and is handed out at most
 *   `maxWaitMs` after its first event arrived.
 * - Order: per partition key where the broker orders (Kafka partition, Pub/Sub ordering key,
 *   NATS subject, queue order); a redelivery may repeat events already seen.
 * - Errors are `HeraldError`s: `BROKER_UNAVAILABLE` (retryable) while the server is unreachable,
 *   `TOPIC_NOT_FOUND` when a topic, stream or subscription does not exist and may not be created.
 * - `close()` is idempotent and ends the iteration; unacknowledged messages stay with the broker.
 */
export interface Subscriber {
  /** A short name for logs and metrics, e.g. `kafka`. */
  readonly name: string;
  /** Connects and checks (or creates, when allowed) every topic and subscription. */
  prepare(): Promise<void>;
  /** The stream of batches; ends when `signal` aborts or `close()` is called. */
  batches(signal?: AbortSignal): AsyncIterable<SubscriberBatch>;
  /**
   * Optional: messages waiting per topic behind what this subscriber acknowledged (Kafka: the
   * partitions' end offsets minus the offsets this process committed). One broker request; for
   * a timer, not for every scrape. Resolves empty before the first acknowledgement.
   */
  lag?(): Promise<ReadonlyMap<string, number>>;
  close(): Promise<void>;
}

/** What every subscriber is told; defaults in {@link subscriberDefaults}. */
export interface SubscriberOptions {
  /** The topics to read. */
  readonly topics: readonly string[];
  /**
   * The consumer's durable name: Kafka consumer group, NATS durable consumer, Redis consumer
   * group; Pub/Sub subscriptions and RabbitMQ queues are named `<group>.<topic>`.
   */
  readonly group: string;
  /** Most events per batch. */
  readonly maxBatch?: number;
  /** Longest wait, in ms, between a batch's first event and handing the batch out. */
  readonly maxWaitMs?: number;
  /** Create missing subscriptions, queues and consumer groups instead of failing. */
  readonly createSubscriptions?: boolean;
}

/** The defaults of {@link SubscriberOptions}, in one table. */
export const subscriberDefaults = {
  maxBatch: 5_000,
  maxWaitMs: 200,
  createSubscriptions: false,
} as const;
