import { HeraldError, ErrorCodes, messageOf } from '../../errors.js';
import { bounded } from '../bounded.js';
import { decodeIncoming } from '../incoming.js';
import { importPeer } from '../peer.js';
import { callOptions, classify, grpcCode, GrpcStatus, parsePubSubUrl, pubsubClientConfig, topicExists } from './publisher.js';
import { BatchBuffer, subscriberSettings, type SubscriberSettings } from '../subscriber-buffer.js';
import type { Subscriber, SubscriberBatch, SubscriberOptions } from '../subscriber.js';

/** Options of {@link PubSubSubscriber}; the shared ones default as in `subscriberDefaults`. */
export interface PubSubSubscriberOptions extends SubscriberOptions {
  /** `pubsub://<project-id>`, optionally `pubsub://<project-id>?emulator=127.0.0.1:8085`, as for the publisher. */
  readonly url: string;
}

type PubSubModule = typeof import('@google-cloud/pubsub');
type Client = import('@google-cloud/pubsub').PubSub;
type Subscription = import('@google-cloud/pubsub').Subscription;
type Message = import('@google-cloud/pubsub').Message;

interface Received {
  readonly topic: string;
  readonly message: Message;
}

/** Longest wait for one administrative request, a batch's acks or closing, in ms. */
const timeoutMs = 10_000;

/** Pub/Sub's rule for subscription ids (cloud.google.com/pubsub/docs/subscription-overview). */
const SUBSCRIPTION = /^(?!goog)[A-Za-z][A-Za-z0-9._~+%-]{2,254}$/;

/**
 * Reads Google Cloud Pub/Sub (or its emulator) with `@google-cloud/pubsub`, an optional peer
 * dependency, by streaming pull.
 *
 * - Subscriptions: one per topic, named `<group>.<topic>`. `prepare()` checks each topic and
 *   subscription; with `createSubscriptions` a missing subscription is created with message
 *   ordering and exactly-once delivery on. Pub/Sub keeps for a subscription only what is published
 *   after it exists, so prepare before the first publish.
 * - Flow control: the client holds at most `maxBatch` unacknowledged messages per subscription;
 *   their leases are extended while a batch is being processed.
 * - Order: with message ordering on, one ordering key (Herald's partition key) arrives in publish order.
 * - `ack()` acknowledges every message of the batch. On a subscription with exactly-once delivery
 *   it resolves once Pub/Sub confirmed each ack and rejects with `BROKER_UNAVAILABLE` otherwise; on
 *   one without, Pub/Sub confirms nothing: the acks are sent within 100 ms (and flushed by
 *   `close()`), and a lost one means a redelivery, which the loader's deduplication absorbs.
 * - `close()` gives back (nacks) every message handed out or held but not acknowledged, so the
 *   group's next subscriber gets them at once rather than after the ack deadline.
 * - Events: position = the Pub/Sub message id; attributes from the `ce-` message attributes.
 */
export class PubSubSubscriber implements Subscriber {
  readonly name = 'pubsub';
  readonly #settings: SubscriberSettings;
  readonly #project: string;
  readonly #emulator: string | undefined;
  #pubsub: PubSubModule | undefined;
  #client: Client | undefined;
  #buffer: BatchBuffer<Received> | undefined;
  readonly #subscriptions: Subscription[] = [];
  #prepared = false;
  #closed = false;

  constructor(options: PubSubSubscriberOptions) {
    const { project, emulator } = parsePubSubUrl(options.url);
    this.#project = project;
    this.#emulator = emulator;
    this.#settings = subscriberSettings('pubsub', options);
    for (const topic of this.#settings.topics) {
      const name = this.#subscriptionName(topic);
      if (!SUBSCRIPTION.test(name)) {
        throw new HeraldError(
          ErrorCodes.CONFIG_INVALID,
          `pubsub subscription name '${name}' (group '${this.#settings.group}', topic '${topic}') must be 3-255 letters, digits and - . _ ~ + %, start with a letter and not with goog; choose another group`,
          { details: { option: 'group' } },
        );
      }
    }
  }

  /**
   * Checks that every topic exists and that its subscription `<group>.<topic>` exists and reads it,
   * creating a missing subscription when `createSubscriptions` is set. Rejects with
   * `TOPIC_NOT_FOUND` naming the topic or subscription, `BROKER_UNAVAILABLE` when Pub/Sub cannot be
   * reached within 10 s.
   */
  async prepare(): Promise<void> {
    const client = await this.#connect();
    for (const topic of this.#settings.topics) await this.#check(client, topic);
    this.#prepared = true;
  }

  async #check(client: Client, topic: string): Promise<void> {
    const gaxOpts = callOptions(timeoutMs);
    const name = this.#subscriptionName(topic);
    const topicFound = await topicExists(client, topic, gaxOpts, (cause) =>
      failure(cause, `cannot check pubsub topic '${topic}' in project ${this.#where()}`),
    );
    if (!topicFound) {
      throw new HeraldError(
        ErrorCodes.TOPIC_NOT_FOUND,
        `pubsub topic '${topic}' does not exist in project ${this.#where()}; create it (gcloud pubsub topics create ${topic}) or subscribe to an existing topic`,
        { details: { topic } },
      );
    }
    const metadata = await client
      .subscription(name)
      .getMetadata(gaxOpts)
      .then(
        ([m]) => m,
        (cause: unknown) => {
          if (grpcCode(cause) === GrpcStatus.NOT_FOUND) return undefined;
          throw failure(cause, `cannot check pubsub subscription '${name}' in project ${this.#where()}`);
        },
      );
    if (metadata) {
      const expected = `projects/${this.#project}/topics/${topic}`;
      if (metadata.topic !== expected) {
        throw new HeraldError(
          ErrorCodes.CONFIG_INVALID,
          `pubsub subscription '${name}' in project ${this.#where()} reads '${metadata.topic ?? ''}', not topic '${topic}'; delete it or choose another group`,
          { details: { subscription: name, topic } },
        );
      }
      return;
    }
    if (!this.#settings.createSubscriptions) {
      throw new HeraldError(
        ErrorCodes.TOPIC_NOT_FOUND,
        `pubsub subscription '${name}' does not exist in project ${this.#where()}; create it (gcloud pubsub subscriptions create ${name} --topic=${topic} --enable-message-ordering --enable-exactly-once-delivery) or set createSubscriptions`,
        { details: { subscription: name, topic } },
      );
    }
    await client
      .topic(topic)
      .createSubscription(name, { enableMessageOrdering: true, enableExactlyOnceDelivery: true, gaxOpts })
      .catch((cause: unknown) => {
        // Another loader may have created it a moment ago; that is fine.
        if (grpcCode(cause) !== GrpcStatus.ALREADY_EXISTS) {
          throw failure(cause, `cannot create pubsub subscription '${name}' in project ${this.#where()}`);
        }
      });
  }

  /** Batches of at most `maxBatch` messages from every subscription; ends on `close()` or when `signal` aborts. */
  async *batches(signal?: AbortSignal): AsyncIterable<SubscriberBatch> {
    if (!this.#prepared) await this.prepare();
    const buffer = this.#start();
    const { maxBatch, maxWaitMs } = this.#settings;
    for (;;) {
      const received = await buffer.next(maxBatch, maxWaitMs, signal);
      if (received === undefined) return;
      let acked: Promise<void> | undefined;
      yield {
        events: received.map(({ topic, message }) =>
          decodeIncoming(topic, message.id, Object.entries(message.attributes ?? {}), 'ce-', message.data.toString('utf8')),
        ),
        ack: () => (acked ??= this.#ack(received)),
      };
    }
  }

  async #ack(received: readonly Received[]): Promise<void> {
    const what = `cannot acknowledge ${received.length} pubsub message(s)`;
    if (this.#closed) {
      throw new HeraldError(ErrorCodes.CLOSED, `${what}: the subscriber is closed; they will be delivered again`);
    }
    // Resolves at once on a subscription without exactly-once delivery (see the class comment).
    const acks = Promise.all(received.map(({ message }) => message.ackWithResponse()));
    await bounded(
      acks,
      timeoutMs,
      () =>
        new HeraldError(ErrorCodes.BROKER_UNAVAILABLE, `${what}: no confirmation within ${timeoutMs} ms; they will be delivered again`, {
          retryable: true,
        }),
    ).catch((cause: unknown) => {
      if (cause instanceof HeraldError) throw cause;
      // An AckError carries why Pub/Sub refused (an expired lease, a lost permission): either way
      // the messages come again.
      const reason = (cause as { errorCode?: unknown }).errorCode ?? messageOf(cause);
      throw new HeraldError(ErrorCodes.BROKER_UNAVAILABLE, `${what}: ${String(reason)}; they will be delivered again`, {
        cause,
        retryable: true,
      });
    });
  }

  /** Stops reading and gives back every unacknowledged message; idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#buffer?.end();
    const subscriptions = this.#subscriptions.splice(0);
    // Each nacks what it holds (closeOptions) and flushes pending acks before it resolves.
    await Promise.all(
      subscriptions.map((s) =>
        bounded(s.close(), timeoutMs, () => new Error('pubsub subscription close timed out')).catch(() => undefined),
      ),
    );
    const client = this.#client;
    this.#client = undefined;
    await client?.close().catch(() => undefined);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Opens one streaming pull per subscription, the first time an iteration starts (after `prepare()`). */
  #start(): BatchBuffer<Received> {
    if (this.#closed || !this.#client || !this.#pubsub) throw new HeraldError(ErrorCodes.CLOSED, 'pubsub subscriber is closed');
    if (this.#buffer) return this.#buffer;
    const client = this.#client;
    const { Duration } = this.#pubsub;
    const buffer = new BatchBuffer<Received>();
    this.#buffer = buffer;
    for (const topic of this.#settings.topics) {
      const name = this.#subscriptionName(topic);
      const subscription = client.subscription(name, {
        flowControl: { maxMessages: this.#settings.maxBatch, allowExcessMessages: false },
        closeOptions: { behavior: 'NACK', timeout: Duration.from({ seconds: 5 }) },
      });
      subscription.on('message', (message: Message) => buffer.push({ topic, message }));
      // The client retries what may pass by itself; what reaches here ends the iteration.
      subscription.on('error', (cause: unknown) => {
        buffer.fail(
          grpcCode(cause) === GrpcStatus.NOT_FOUND
            ? new HeraldError(
                ErrorCodes.TOPIC_NOT_FOUND,
                `pubsub subscription '${name}' in project ${this.#where()} no longer exists; create it again and restart`,
                { cause, details: { subscription: name, topic } },
              )
            : failure(cause, `cannot read pubsub subscription '${name}' in project ${this.#where()}`),
        );
      });
      this.#subscriptions.push(subscription);
    }
    return buffer;
  }

  #subscriptionName(topic: string): string {
    return `${this.#settings.group}.${topic}`;
  }

  #where(): string {
    return this.#emulator === undefined ? this.#project : `${this.#project} (emulator ${this.#emulator})`;
  }

  async #module(): Promise<PubSubModule> {
    this.#pubsub ??= await importPeer('pubsub', ['@google-cloud/pubsub'], () => import('@google-cloud/pubsub'), 'subscriber');
    return this.#pubsub;
  }

  /** One client for the subscriber's life: its gRPC channel reconnects by itself after an outage. */
  async #connect(): Promise<Client> {
    if (this.#closed) throw new HeraldError(ErrorCodes.CLOSED, 'pubsub subscriber is closed');
    if (this.#client) return this.#client;
    const { PubSub } = await this.#module();
    this.#client = new PubSub(pubsubClientConfig(this.#project, this.#emulator));
    return this.#client;
  }
}

/**
 * A client error as a subscriber reports it: unreachable, timed out or refused credentials are
 * `BROKER_UNAVAILABLE` (as for the publisher); a request Pub/Sub calls invalid is `CONFIG_INVALID`;
 * anything else is a retryable `BROKER_UNAVAILABLE`, since nothing about the subscription is known.
 */
function failure(cause: unknown, what: string): HeraldError {
  const code = grpcCode(cause);
  if (code === GrpcStatus.INVALID_ARGUMENT || code === GrpcStatus.FAILED_PRECONDITION) {
    return new HeraldError(ErrorCodes.CONFIG_INVALID, `${what}: rejected by pubsub: ${messageOf(cause)}`, { cause });
  }
  const known = classify(cause, what);
  if (known.code === ErrorCodes.BROKER_UNAVAILABLE) return known;
  return new HeraldError(ErrorCodes.BROKER_UNAVAILABLE, `${what}: ${messageOf(cause)}`, { cause, retryable: true });
}
