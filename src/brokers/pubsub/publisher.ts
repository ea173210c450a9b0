import { HeraldError, ErrorCodes, messageOf } from '../../errors.js';
import { importPeer } from '../peer.js';
import { maskCredentials } from '../mask.js';
import { ceAttributes, reportDelivered, type OutgoingEvent, type Publisher } from '../publisher.js';

/** Options of {@link PubSubPublisher}. Defaults are in {@link pubsubDefaults}. */
export interface PubSubPublisherOptions {
  /** `pubsub://<project-id>`, optionally `pubsub://<project-id>?emulator=127.0.0.1:8085`. */
  readonly url: string;
  /**
   * `host:port` of a Pub/Sub emulator; wins over `?emulator=` in the URL. With an emulator the
   * client speaks plain-text gRPC and uses no Google credentials at all. Without one it talks to
   * `pubsub.googleapis.com` with Application Default Credentials. `PUBSUB_EMULATOR_HOST` is not
   * read here: environment fallbacks belong to the CLI.
   */
  readonly emulatorHost?: string;
  /** Create missing topics in `prepare()` instead of failing. Default false. */
  readonly createTopics?: boolean;
  /**
   * Longest wait for one request to Pub/Sub, the client's own retries included, in ms. The client
   * would otherwise retry an unreachable service for ten minutes. Keep it below half the relay
   * lease. Default 10000.
   */
  readonly timeoutMs?: number;
}

/** The defaults of {@link PubSubPublisherOptions}, in one table. */
export const pubsubDefaults = {
  createTopics: false,
  timeoutMs: 10_000,
} as const;

/** Pub/Sub's resource limits (cloud.google.com/pubsub/quotas), checked before anything is sent. */
export const pubsubLimits = {
  /** A publish request, and so one message, may not exceed 10 MiB. */
  messageBytes: 10 * 1024 * 1024,
  attributeValueBytes: 1024,
  orderingKeyBytes: 1024,
} as const;

type PubSubModule = typeof import('@google-cloud/pubsub');
type Client = import('@google-cloud/pubsub').PubSub;
type Topic = import('@google-cloud/pubsub').Topic;

/**
 * Publishes to Google Cloud Pub/Sub (or its emulator) with `@google-cloud/pubsub`, an optional
 * peer dependency.
 *
 * - Durability: `publish` resolves once Pub/Sub returned a message id for every event, i.e. stored
 *   it for every subscription that existed at that moment. Pub/Sub keeps nothing for a topic
 *   without subscriptions, so create them before relaying (`createTopics` creates only topics).
 * - Ordering: the ordering key is the event's partition key (the topic publisher has message
 *   ordering on), so subscriptions with message ordering enabled receive one key in batch order.
 *   After a failed publish the client pauses that key and fails every later message of it, so
 *   nothing of the key can overtake the failed event; `publish` resumes the key once all of its
 *   batch has settled, because the caller republishes the failed events before any later ones.
 *   A rejection reports the messages that got their id (`reportDelivered`): per key a prefix.
 * - CloudEvents Pub/Sub binding, binary content mode: `data` is the message data, byte for byte;
 *   attributes are `ce-*` message attributes and `content-type` is `application/json`.
 * - Deduplication: Pub/Sub has none on the publisher side. The event id travels as `ce-id`;
 *   consumers deduplicate on it (exactly-once delivery on a subscription only covers redelivery).
 * - Rejections: unreachable or timed out → `BROKER_UNAVAILABLE`; unknown topic →
 *   `TOPIC_NOT_FOUND`; an invalid request (a message over {@link pubsubLimits}, a bad topic name)
 *   → `PUBLISH_REJECTED`; anything else → `PUBLISH_FAILED` (retryable).
 */
export class PubSubPublisher implements Publisher {
  readonly name = 'pubsub';
  readonly #options: { createTopics: boolean; timeoutMs: number };
  readonly #project: string;
  readonly #emulator: string | undefined;
  #pubsub: PubSubModule | undefined;
  #client: Client | undefined;
  readonly #topics = new Map<string, Topic>();
  #closed = false;

  constructor(options: PubSubPublisherOptions) {
    const { project, emulator } = parsePubSubUrl(options.url);
    this.#project = project;
    this.#emulator = options.emulatorHost === undefined ? emulator : parseHostPort(options.emulatorHost, 'emulatorHost');
    this.#options = {
      createTopics: options.createTopics ?? pubsubDefaults.createTopics,
      timeoutMs: options.timeoutMs ?? pubsubDefaults.timeoutMs,
    };
    if (!Number.isInteger(this.#options.timeoutMs) || this.#options.timeoutMs <= 0) {
      throw new HeraldError(ErrorCodes.CONFIG_INVALID, 'pubsub option timeoutMs must be a positive integer (milliseconds)', {
        details: { option: 'timeoutMs' },
      });
    }
  }

  async prepare(topics: readonly string[]): Promise<void> {
    if (this.#closed) throw new HeraldError(ErrorCodes.CLOSED, 'pubsub publisher is closed');
    const client = await this.#connect();
    const gaxOpts = callOptions(this.#options.timeoutMs);
    for (const name of new Set(topics)) {
      if (
        await topicExists(client, name, gaxOpts, (cause) =>
          classify(cause, `cannot check pubsub topic '${name}' in project ${this.#where()}`),
        )
      )
        continue;
      if (!this.#options.createTopics) {
        throw new HeraldError(
          ErrorCodes.TOPIC_NOT_FOUND,
          `pubsub topic '${name}' does not exist in project ${this.#where()}; create it (gcloud pubsub topics create ${name}), map the contract to an existing topic, or pass --create-topics`,
          { details: { topics: [name] } },
        );
      }
      await client.createTopic({ name }, gaxOpts).catch((cause: unknown) => {
        // Another relay may have created it a moment ago; that is fine.
        if (grpcCode(cause) !== GrpcStatus.ALREADY_EXISTS) {
          throw classify(cause, `cannot create pubsub topic '${name}' in project ${this.#where()}`);
        }
      });
    }
  }

  async publish(batch: readonly OutgoingEvent[]): Promise<void> {
    if (this.#closed) throw new HeraldError(ErrorCodes.CLOSED, 'pubsub publisher is closed');
    if (batch.length === 0) return;
    // Built only when an error needs it: this is the relay's hot path.
    const what = (): string =>
      `cannot publish ${batch.length} event(s) to pubsub (${[...new Set(batch.map((e) => `'${e.topic}'`))].join(', ')})`;
    // Checked for the whole batch first: a message Pub/Sub must refuse would pause its key.
    const messages = batch.map((e) => {
      const message = toMessage(e);
      const problem = overLimit(message);
      if (problem) {
        throw new HeraldError(ErrorCodes.PUBLISH_REJECTED, `${what()}: event ${e.event.id} ${problem}`, {
          details: { topic: e.topic, eventId: e.event.id },
        });
      }
      return message;
    });
    const client = await this.#connect();
    const results = await Promise.allSettled(
      messages.map(async (message, i) => this.#topic(client, batch[i]!.topic).publishMessage(message)),
    );
    const failures = results.flatMap((r, i) => (r.status === 'rejected' ? [{ event: batch[i]!, reason: r.reason as unknown }] : []));
    if (failures.length === 0) return;
    // Every message of this batch has settled, so the paused keys can take new messages again;
    // the caller republishes the failed events first (see the class comment).
    for (const { event } of failures) this.#topics.get(event.topic)?.resumePublishing(event.event.partitionkey);
    // A message with its id is stored. Per ordering key, the client rejects every message after a
    // failed one, so what is stored is a prefix of each key and the caller sends only the rest.
    const stored = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
    throw reportDelivered(classify(failures[0]!.reason, what()), stored);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const client = this.#client;
    this.#client = undefined;
    this.#topics.clear();
    await client?.close().catch(() => undefined);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #where(): string {
    return this.#emulator === undefined ? this.#project : `${this.#project} (emulator ${this.#emulator})`;
  }

  #topic(client: Client, name: string): Topic {
    let topic = this.#topics.get(name);
    if (!topic) {
      topic = client.topic(name, { messageOrdering: true, gaxOpts: callOptions(this.#options.timeoutMs) });
      this.#topics.set(name, topic);
    }
    return topic;
  }

  async #module(): Promise<PubSubModule> {
    if (this.#pubsub) return this.#pubsub;
    this.#pubsub = await importPeer('pubsub', ['@google-cloud/pubsub'], () => import('@google-cloud/pubsub'));
    return this.#pubsub;
  }

  /** One client for the publisher's life: its gRPC channel reconnects by itself after an outage. */
  async #connect(): Promise<Client> {
    if (this.#client) return this.#client;
    const { PubSub } = await this.#module();
    this.#client = new PubSub(pubsubClientConfig(this.#project, this.#emulator));
    return this.#client;
  }
}

/**
 * The client settings for `project`: the real service with Application Default Credentials, or
 * the emulator at `emulator` (plain-text gRPC, no credentials, nothing leaves the machine).
 */
export function pubsubClientConfig(project: string, emulator: string | undefined): import('@google-cloud/pubsub').ClientConfig {
  return emulator === undefined
    ? // Explicit, so that PUBSUB_EMULATOR_HOST in the environment cannot redirect the library.
      { projectId: project, apiEndpoint: 'pubsub.googleapis.com:443' }
    : {
        projectId: project,
        apiEndpoint: emulator,
        // Plain-text gRPC without Google credentials.
        emulatorMode: true,
        // Without an explicit universe the auth library looks for credentials to learn it,
        // which probes the GCE metadata server: nothing may leave this machine for an emulator.
        universeDomain: 'googleapis.com',
      };
}

/**
 * Call options bounding one request to `timeoutMs`, retries included. The client's defaults
 * retry for ten minutes with pauses of up to a minute, and a total timeout alone does not cut a
 * pause short, so the pauses are kept at or below one second.
 */
export function callOptions(timeoutMs: number): import('@google-cloud/pubsub').CallOptions {
  return {
    timeout: timeoutMs,
    retry: {
      backoffSettings: {
        initialRetryDelayMillis: 100,
        retryDelayMultiplier: 2,
        maxRetryDelayMillis: 1_000,
        initialRpcTimeoutMillis: timeoutMs,
        rpcTimeoutMultiplier: 1,
        maxRpcTimeoutMillis: timeoutMs,
        totalTimeoutMillis: timeoutMs,
      },
    },
  };
}

interface PubSubMessage {
  data: Buffer;
  attributes: Record<string, string>;
  orderingKey: string;
}

function toMessage(e: OutgoingEvent): PubSubMessage {
  const attributes: Record<string, string> = { 'content-type': 'application/json' };
  const attrs = e.event as unknown as Record<string, string | undefined>;
  for (const name of ceAttributes) {
    const value = attrs[name];
    if (value !== undefined) attributes[`ce-${name}`] = value;
  }
  return { data: Buffer.from(e.data, 'utf8'), attributes, orderingKey: e.event.partitionkey };
}

/** Why Pub/Sub would refuse `m` for good, or undefined. The emulator does not check these. */
function overLimit(m: PubSubMessage): string | undefined {
  const { messageBytes, attributeValueBytes, orderingKeyBytes } = pubsubLimits;
  let size = m.data.length + Buffer.byteLength(m.orderingKey);
  for (const [name, value] of Object.entries(m.attributes)) {
    const bytes = Buffer.byteLength(value);
    if (bytes > attributeValueBytes) return `has attribute ${name} of ${bytes} bytes; pubsub allows ${attributeValueBytes}`;
    size += bytes + name.length;
  }
  if (Buffer.byteLength(m.orderingKey) > orderingKeyBytes)
    return `has a partition key over ${orderingKeyBytes} bytes (the pubsub ordering key limit)`;
  if (size > messageBytes) return `is ${size} bytes; a pubsub message may have at most ${messageBytes}`;
  return undefined;
}

/** The gRPC status codes the Pub/Sub adapters tell apart. */
export const GrpcStatus = {
  CANCELLED: 1,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  FAILED_PRECONDITION: 9,
  OUT_OF_RANGE: 11,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/** The gRPC status code of a client error, if it has one. */
export function grpcCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/**
 * Whether a Pub/Sub topic exists. A role that may publish or subscribe without viewing topics
 * (PERMISSION_DENIED) counts as "exists": publishing or subscribing then tells. Any other failure
 * is thrown as `fail` maps it.
 */
export function topicExists(
  client: Client,
  name: string,
  gaxOpts: ReturnType<typeof callOptions>,
  fail: (cause: unknown) => Error,
): Promise<boolean> {
  return client
    .topic(name)
    .getMetadata(gaxOpts)
    .then(
      () => true,
      (cause: unknown) => {
        if (grpcCode(cause) === GrpcStatus.NOT_FOUND) return false;
        if (grpcCode(cause) === GrpcStatus.PERMISSION_DENIED) return true;
        throw fail(cause);
      },
    );
}

/**
 * Turns a client error into a HeraldError by its gRPC status. A service that cannot be reached
 * in time is `BROKER_UNAVAILABLE`; a request Pub/Sub calls invalid (or not allowed) is
 * `PUBLISH_REJECTED`; an unknown topic is `TOPIC_NOT_FOUND`, retryable like Kafka's, because
 * creating the topic fixes it without touching the events; anything else may pass later.
 */
export function classify(cause: unknown, what: string): HeraldError {
  const code = grpcCode(cause);
  // A PublishError wraps the gRPC error with a message naming the ordering key (a partition key,
  // possibly personal data): keys stay out of errors, so the wrapped gRPC error is what is kept.
  cause = (cause as { error?: unknown } | null)?.error ?? cause;
  const reason = messageOf(cause);
  switch (code) {
    case GrpcStatus.UNAVAILABLE:
    case GrpcStatus.DEADLINE_EXCEEDED:
    case GrpcStatus.CANCELLED:
      return new HeraldError(
        ErrorCodes.BROKER_UNAVAILABLE,
        `${what}: pubsub unavailable: ${reason}; check the address and that the service is running`,
        {
          cause,
          retryable: true,
        },
      );
    case GrpcStatus.NOT_FOUND:
      return new HeraldError(ErrorCodes.TOPIC_NOT_FOUND, `${what}: topic does not exist; create it or pass --create-topics`, {
        cause,
        retryable: true,
      });
    case GrpcStatus.PERMISSION_DENIED:
    case GrpcStatus.UNAUTHENTICATED:
      // Credentials are configuration, not the events' fault: the relay pauses instead of
      // dead-lettering every event until they are fixed.
      return new HeraldError(
        ErrorCodes.BROKER_UNAVAILABLE,
        `${what}: pubsub refused the credentials: ${reason}; check the service account and its roles`,
        {
          cause,
          retryable: true,
        },
      );
    case GrpcStatus.INVALID_ARGUMENT:
    case GrpcStatus.FAILED_PRECONDITION:
    case GrpcStatus.OUT_OF_RANGE:
      return new HeraldError(ErrorCodes.PUBLISH_REJECTED, `${what}: rejected by pubsub: ${reason}`, { cause });
    default:
      return new HeraldError(ErrorCodes.PUBLISH_FAILED, `${what}: ${reason}`, { cause, retryable: true });
  }
}

const PROJECT = /^(?:[a-z0-9][a-z0-9.-]*[a-z0-9]:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$/;

/**
 * Parses `pubsub://<project-id>[?emulator=host:port]`. A project id is 6–30 lowercase letters,
 * digits and hyphens starting with a letter (optionally `domain:` scoped).
 */
export function parsePubSubUrl(url: string): { project: string; emulator?: string } {
  const match = /^pubsub:\/\/([^/?#]*)\/?(?:\?([^#]*))?$/.exec(url);
  const project = match ? decodeURIComponent(match[1]!) : '';
  if (!match || !PROJECT.test(project)) {
    throw new HeraldError(
      ErrorCodes.CONFIG_INVALID,
      `pubsub url '${maskCredentials(url)}' must be pubsub://<project-id>, as in pubsub://my-project`,
      {
        details: { option: 'url' },
      },
    );
  }
  const query = new URLSearchParams(match[2] ?? '');
  const unknown = [...query.keys()].find((k) => k !== 'emulator');
  if (unknown !== undefined) {
    throw new HeraldError(ErrorCodes.CONFIG_INVALID, `pubsub url parameter '${unknown}' is not known; the only one is emulator=host:port`, {
      details: { option: 'url' },
    });
  }
  const emulator = query.get('emulator');
  return emulator === null ? { project } : { project, emulator: parseHostPort(emulator, 'url') };
}

function parseHostPort(value: string, option: string): string {
  if (!/^[A-Za-z0-9.-]+:\d{1,5}$/.test(value)) {
    throw new HeraldError(ErrorCodes.CONFIG_INVALID, `pubsub emulator address '${value}' must be host:port, as in 127.0.0.1:8085`, {
      details: { option },
    });
  }
  return value;
}
