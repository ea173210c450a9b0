import { HeraldError, ErrorCodes, messageOf } from '../../errors.js';
import { importPeer } from '../peer.js';
import { maskCredentials } from '../mask.js';
import { ceAttributes, type OutgoingEvent, type Publisher } from '../publisher.js';

/** Static credentials, for SNS stand-ins in tests. Production code leaves them to the SDK's default chain. */
export interface SnsStaticCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/** Options of {@link SnsPublisher}. Defaults are in {@link snsDefaults}. */
export interface SnsPublisherOptions {
  /**
   * `sns://<region>[?endpoint=http://host:port][&accountId=123456789012]`. `endpoint` points the
   * client at an SNS-compatible server instead of AWS; `accountId` lets topic names become ARNs
   * without a `ListTopics` call.
   */
  readonly url: string;
  /** The AWS account owning the topics; overrides the URL's `accountId`. Default: found by `ListTopics`. */
  readonly accountId?: string;
  /** Create missing topics in `prepare()` (a `.fifo` name makes a FIFO topic) instead of failing. Default false. */
  readonly createTopics?: boolean;
  /** Timeout of connecting and of each request, in ms. Default 5000. */
  readonly timeoutMs?: number;
  /** Attempts the SDK makes for one request, with its own backoff, before reporting failure. Default 3. */
  readonly maxAttempts?: number;
  /** Explicit credentials. Default: the AWS SDK's default chain (environment, profile, SSO, ECS, EC2). */
  readonly credentials?: SnsStaticCredentials;
}

/** The defaults of {@link SnsPublisherOptions}, in one table. */
export const snsDefaults = {
  createTopics: false,
  timeoutMs: 5_000,
  maxAttempts: 3,
} as const;

/** SNS's limits, which the publisher plans its requests around. */
export const snsLimits = {
  /** Entries of one `PublishBatch` request. */
  batchEntries: 10,
  /** Bytes of one message, and of all the messages of one `PublishBatch` request together (256 KiB). */
  payloadBytes: 262_144,
  /** Message attributes of one message (also SQS's, for raw delivery to queues). */
  messageAttributes: 10,
} as const;

type SnsModule = typeof import('@aws-sdk/client-sns');
type SNSClient = import('@aws-sdk/client-sns').SNSClient;
type BatchEntry = import('@aws-sdk/client-sns').PublishBatchRequestEntry;
type Attributes = NonNullable<BatchEntry['MessageAttributes']>;

/** A parsed `sns://` URL. */
export interface SnsUrl {
  readonly region: string;
  readonly endpoint: string | undefined;
  readonly accountId: string | undefined;
}

/**
 * Publishes to Amazon SNS with `@aws-sdk/client-sns` (an optional peer dependency). Topic = SNS
 * topic name (or a full topic ARN); a name ending in `.fifo` is a FIFO topic.
 *
 * - Durability: `publish` resolves after SNS accepted every event (`PublishBatch` answered each
 *   entry as successful), that is after SNS stored it redundantly across availability zones.
 *   Delivery to subscriptions happens after that and is SNS's business (retries, DLQs).
 * - Requests: events go to `PublishBatch` in batch order, at most 10 entries and 256 KiB per
 *   request. For a FIFO topic a request holds at most one event per message group, the requests
 *   of a topic are sent one after another, and the first failure stops the batch; for a standard
 *   topic they are sent concurrently.
 * - Ordering: FIFO topics: `MessageGroupId` = the partition key, so SNS (and FIFO SQS subscribers)
 *   keep each key's events in batch order. Standard topics do not order at all.
 * - Deduplication: FIFO topics: `MessageDeduplicationId` = the event id, so SNS drops a retried
 *   event within its 5-minute deduplication window. Standard topics do not deduplicate: a retried
 *   batch may deliver an event twice; consumers deduplicate on `ce-id`.
 * - CloudEvents, binary mode: the message body is `data` exactly; the attributes travel as `String`
 *   message attributes `ce-<name>` plus `content-type`. SNS allows 10 attributes per message:
 *   the 9 of {@link ceAttributes} and `content-type` are exactly 10. Empty values are left out
 *   (SNS refuses empty attribute values). Subscribers need raw message delivery to see them as
 *   message attributes; otherwise they are inside the SNS JSON envelope.
 * - Rejects with `BROKER_UNAVAILABLE` (endpoint unreachable, timeouts; retryable),
 *   `TOPIC_NOT_FOUND` (retryable, like Kafka's), `PUBLISH_REJECTED` (an entry failed with
 *   `SenderFault`, or a client error such as authorisation, too large, invalid group id; not
 *   retryable) or `PUBLISH_FAILED` (throttling, server faults, failed entries without
 *   `SenderFault`; retryable). When it rejects, any subset of the batch may have been published.
 */
export class SnsPublisher implements Publisher {
  readonly name = 'sns';
  readonly #url: SnsUrl;
  readonly #options: Required<Omit<SnsPublisherOptions, 'url' | 'accountId' | 'credentials'>> & {
    accountId: string | undefined;
    credentials: SnsStaticCredentials | undefined;
  };
  readonly #arns = new Map<string, string>();
  #sns: SnsModule | undefined;
  #client: SNSClient | undefined;
  #closed = false;

  constructor(options: SnsPublisherOptions) {
    this.#url = parseSnsUrl(options.url);
    this.#options = {
      ...snsDefaults,
      ...options,
      accountId: options.accountId ?? this.#url.accountId,
      credentials: options.credentials,
    };
    for (const o of ['timeoutMs', 'maxAttempts'] as const) {
      if (!Number.isInteger(this.#options[o]) || this.#options[o] < 1) {
        throw new HeraldError(ErrorCodes.CONFIG_INVALID, `sns option '${o}' must be a positive integer`, { details: { option: o } });
      }
    }
  }

  async prepare(topics: readonly string[]): Promise<void> {
    if (this.#closed) throw new HeraldError(ErrorCodes.CLOSED, 'sns publisher is closed');
    const client = await this.#connect();
    const sns = this.#sns!;
    const wanted = [...new Set(topics)];
    const existing = await this.#listTopics(client);
    const missing = wanted.filter((t) => !existing.has(t));
    for (const t of wanted) if (existing.has(t)) this.#arns.set(t, existing.get(t)!);
    if (missing.length === 0) return;
    if (!this.#options.createTopics) {
      throw new HeraldError(
        ErrorCodes.TOPIC_NOT_FOUND,
        `sns topic '${missing[0]}' does not exist in ${this.#where()}; create it, map the contract to an existing topic, or pass --create-topics`,
        { details: { topics: missing } },
      );
    }
    for (const topic of missing) {
      const name = topic.startsWith('arn:') ? topic.split(':').at(-1)! : topic;
      const fifo = name.endsWith('.fifo');
      // CreateTopic is idempotent: a topic another relay created a moment ago is returned as is.
      const created = await client
        .send(new sns.CreateTopicCommand({ Name: name, ...(fifo ? { Attributes: { FifoTopic: 'true' } } : {}) }))
        .catch((cause: unknown) => {
          throw classify(cause, `cannot create sns topic '${name}' in ${this.#where()}`);
        });
      this.#arns.set(topic, created.TopicArn!);
    }
  }

  async publish(batch: readonly OutgoingEvent[]): Promise<void> {
    if (this.#closed) throw new HeraldError(ErrorCodes.CLOSED, 'sns publisher is closed');
    if (batch.length === 0) return;
    const client = await this.#connect();
    const byTopic = new Map<string, OutgoingEvent[]>();
    for (const e of batch) {
      const list = byTopic.get(e.topic);
      if (list) list.push(e);
      else byTopic.set(e.topic, [e]);
    }
    // Topics are independent destinations; within one, the order of requests matters for FIFO.
    const results = await Promise.allSettled([...byTopic].map(([topic, events]) => this.#publishTopic(client, topic, events)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  async #publishTopic(client: SNSClient, topic: string, events: readonly OutgoingEvent[]): Promise<void> {
    const what = (): string => `cannot publish ${events.length} event(s) to sns topic '${topic}' in ${this.#where()}`;
    const arn = await this.#arn(client, topic, what);
    const fifo = arn.endsWith('.fifo');
    const chunks = batchRequests(events.map((e, i) => toEntry(e, i, fifo)));
    if (fifo) {
      for (const entries of chunks) await this.#publishBatch(client, arn, entries, what);
    } else {
      const results = await Promise.allSettled(chunks.map((entries) => this.#publishBatch(client, arn, entries, what)));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    }
  }

  async #publishBatch(client: SNSClient, arn: string, entries: BatchEntry[], what: () => string): Promise<void> {
    const sns = this.#sns!;
    const out = await client
      .send(new sns.PublishBatchCommand({ TopicArn: arn, PublishBatchRequestEntries: entries }))
      .catch((cause: unknown) => {
        throw classify(cause, what());
      });
    const failed = out.Failed ?? [];
    const succeeded = new Set((out.Successful ?? []).map((s) => s.Id));
    if (failed.length === 0 && entries.every((e) => succeeded.has(e.Id))) return;
    const rejected = failed.some((f) => f.SenderFault === true);
    const reasons = [...new Set(failed.map((f) => `${f.Code ?? 'unknown'}: ${f.Message ?? ''}`.trim()))].slice(0, 3).join('; ');
    const details = { failed: failed.map((f) => ({ entry: f.Id, code: f.Code, senderFault: f.SenderFault })) };
    if (failed.length === 0) {
      throw new HeraldError(ErrorCodes.PUBLISH_FAILED, `${what()}: sns acknowledged only ${succeeded.size} of ${entries.length} entries`, {
        retryable: true,
        details,
      });
    }
    throw rejected
      ? new HeraldError(
          ErrorCodes.PUBLISH_REJECTED,
          `${what()}: ${failed.length} of ${entries.length} entries rejected by sns: ${reasons}`,
          {
            details,
          },
        )
      : new HeraldError(ErrorCodes.PUBLISH_FAILED, `${what()}: ${failed.length} of ${entries.length} entries failed: ${reasons}`, {
          retryable: true,
          details,
        });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#client?.destroy();
    this.#client = undefined;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** The topic's ARN: given, cached, built from the account id, or found by `ListTopics`. */
  async #arn(client: SNSClient, topic: string, what: () => string): Promise<string> {
    if (topic.startsWith('arn:')) return topic;
    const known = this.#arns.get(topic);
    if (known) return known;
    if (this.#options.accountId !== undefined) {
      const arn = `arn:${partitionOf(this.#url.region)}:sns:${this.#url.region}:${this.#options.accountId}:${topic}`;
      this.#arns.set(topic, arn);
      return arn;
    }
    const found = (await this.#listTopics(client)).get(topic);
    if (found === undefined) {
      throw new HeraldError(ErrorCodes.TOPIC_NOT_FOUND, `${what()}: the topic does not exist; create it or pass --create-topics`, {
        retryable: true,
        details: { topic },
      });
    }
    this.#arns.set(topic, found);
    return found;
  }

  /** Every topic of the region, by ARN and by name. */
  async #listTopics(client: SNSClient): Promise<Map<string, string>> {
    const sns = this.#sns!;
    const topics = new Map<string, string>();
    let token: string | undefined;
    do {
      const page = await client.send(new sns.ListTopicsCommand(token === undefined ? {} : { NextToken: token })).catch((cause: unknown) => {
        throw classify(cause, `cannot list sns topics in ${this.#where()}`);
      });
      for (const { TopicArn: arn } of page.Topics ?? []) {
        if (arn === undefined) continue;
        topics.set(arn, arn);
        topics.set(arn.split(':').at(-1)!, arn);
      }
      token = page.NextToken;
    } while (token);
    return topics;
  }

  #where(): string {
    return this.#url.endpoint === undefined ? `region ${this.#url.region}` : `${this.#url.endpoint} (region ${this.#url.region})`;
  }

  async #connect(): Promise<SNSClient> {
    if (this.#client) return this.#client;
    const sns = await this.#module();
    this.#client = new sns.SNSClient({
      region: this.#url.region,
      ...(this.#url.endpoint === undefined ? {} : { endpoint: this.#url.endpoint }),
      ...(this.#options.credentials === undefined ? {} : { credentials: this.#options.credentials }),
      maxAttempts: this.#options.maxAttempts,
      requestHandler: { connectionTimeout: this.#options.timeoutMs, requestTimeout: this.#options.timeoutMs },
    });
    return this.#client;
  }

  async #module(): Promise<SnsModule> {
    if (this.#sns) return this.#sns;
    this.#sns = await importPeer('sns', ['@aws-sdk/client-sns'], () => import('@aws-sdk/client-sns'));
    return this.#sns;
  }
}

/** One `PublishBatch` entry: body = `data`, CloudEvents attributes as `ce-*` String attributes. */
function toEntry(e: OutgoingEvent, index: number, fifo: boolean): BatchEntry {
  const attributes: Attributes = {
    'content-type': { DataType: 'String', StringValue: e.event.datacontenttype ?? 'application/json' },
  };
  const attrs = e.event as unknown as Record<string, string | undefined>;
  for (const name of ceAttributes) {
    const value = attrs[name];
    if (value !== undefined && value !== '') attributes[`ce-${name}`] = { DataType: 'String', StringValue: value };
  }
  return {
    Id: `e${index}`,
    Message: e.data,
    MessageAttributes: attributes,
    ...(fifo ? { MessageGroupId: e.event.partitionkey, MessageDeduplicationId: e.event.id } : {}),
  };
}

/** The bytes SNS counts for an entry: body plus attribute names, types and values. */
function sizeOf(entry: BatchEntry): number {
  let size = Buffer.byteLength(entry.Message ?? '', 'utf8');
  for (const [name, value] of Object.entries(entry.MessageAttributes ?? {})) {
    size +=
      Buffer.byteLength(name, 'utf8') +
      Buffer.byteLength(value.DataType ?? '', 'utf8') +
      Buffer.byteLength(value.StringValue ?? '', 'utf8');
  }
  return size;
}

/**
 * Splits entries, in order, into requests of at most 10 entries and 256 KiB (an oversized entry
 * goes alone). A FIFO request holds at most one entry per message group: `PublishBatch` answers
 * each entry on its own, so a failed entry followed by a successful one of the same group would
 * put the group out of order once the failed one is retried.
 */
export function batchRequests(entries: BatchEntry[]): BatchEntry[][] {
  const chunks: BatchEntry[][] = [];
  let current: BatchEntry[] = [];
  let groups = new Set<string>();
  let bytes = 0;
  for (const entry of entries) {
    const size = sizeOf(entry);
    const group = entry.MessageGroupId;
    const full = current.length === snsLimits.batchEntries || bytes + size > snsLimits.payloadBytes;
    if (current.length > 0 && (full || (group !== undefined && groups.has(group)))) {
      chunks.push(current);
      current = [];
      groups = new Set();
      bytes = 0;
    }
    current.push(entry);
    if (group !== undefined) groups.add(group);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

interface SdkError {
  name?: string;
  Code?: string;
  $fault?: 'client' | 'server';
  $metadata?: { httpStatusCode?: number };
}

const throttling = new Set([
  'Throttled',
  'ThrottledException',
  'Throttling',
  'ThrottlingException',
  'KMSThrottling',
  'KMSThrottlingException',
]);

/** Error names AWS uses for credentials that are missing, wrong, expired or not allowed. */
const authFailures = new Set([
  'AuthorizationError',
  'AuthorizationErrorException',
  'InvalidClientTokenId',
  'ExpiredToken',
  'ExpiredTokenException',
  'AccessDenied',
  'AccessDeniedException',
  'SignatureDoesNotMatch',
  'UnrecognizedClientException',
]);

/**
 * Turns an SDK error into a HeraldError: no HTTP answer at all (refused, reset, timed out, DNS) is
 * `BROKER_UNAVAILABLE`; `NotFound` is `TOPIC_NOT_FOUND`; throttling and server faults are
 * `PUBLISH_FAILED`; missing, wrong or unauthorised credentials are `BROKER_UNAVAILABLE` (configuration:
 * the relay pauses); any other client fault (invalid parameter, too large)
 * is `PUBLISH_REJECTED`.
 */
export function classify(cause: unknown, what: string): HeraldError {
  const top = cause !== null && typeof cause === 'object' ? (cause as SdkError) : undefined;
  const reason = messageOf(cause);
  const status = top?.$metadata?.httpStatusCode;
  const name = top?.name ?? '';
  // Credentials are configuration, not the events' fault: the relay pauses (BROKER_UNAVAILABLE)
  // instead of dead-lettering every event until they are fixed.
  if (name === 'CredentialsProviderError') {
    return new HeraldError(
      ErrorCodes.BROKER_UNAVAILABLE,
      `${what}: no AWS credentials: ${reason}; configure the AWS SDK's default credential chain (environment, profile, role)`,
      { cause, retryable: true },
    );
  }
  if (status === 401 || status === 403 || authFailures.has(name)) {
    return new HeraldError(
      ErrorCodes.BROKER_UNAVAILABLE,
      `${what}: sns refused the credentials: ${reason}; check the IAM policy and keys`,
      {
        cause,
        retryable: true,
      },
    );
  }
  if (name === 'NotFoundException' || name === 'NotFound' || top?.Code === 'NotFound') {
    return new HeraldError(ErrorCodes.TOPIC_NOT_FOUND, `${what}: the topic does not exist; create it or pass --create-topics`, {
      cause,
      retryable: true,
    });
  }
  // Every answer from SNS carries an HTTP status; an error without one never got an answer.
  if (status === undefined && top?.$fault === undefined) {
    return new HeraldError(
      ErrorCodes.BROKER_UNAVAILABLE,
      `${what}: cannot reach sns: ${reason}; check the region or endpoint and the network`,
      {
        cause,
        retryable: true,
      },
    );
  }
  if (throttling.has(name) || top?.$fault === 'server' || (status !== undefined && status >= 500)) {
    return new HeraldError(ErrorCodes.PUBLISH_FAILED, `${what}: ${reason}`, { cause, retryable: true });
  }
  if (top?.$fault === 'client') return new HeraldError(ErrorCodes.PUBLISH_REJECTED, `${what}: rejected by sns: ${reason}`, { cause });
  return new HeraldError(ErrorCodes.PUBLISH_FAILED, `${what}: ${reason}`, { cause, retryable: true });
}

/** Parses `sns://<region>[?endpoint=http://host:port][&accountId=123456789012]`. */
export function parseSnsUrl(url: string): SnsUrl {
  const bad = (why: string): HeraldError =>
    new HeraldError(
      ErrorCodes.CONFIG_INVALID,
      `option 'broker': ${why}; write it as sns://<region>[?endpoint=http://host:port][&accountId=123456789012], as in sns://eu-west-1`,
      { details: { option: 'broker' } },
    );
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw bad('the sns URL cannot be parsed');
  }
  if (parsed.protocol !== 'sns:') throw bad(`the URL scheme must be sns, got '${parsed.protocol.replace(/:$/, '')}'`);
  const region = parsed.hostname.toLowerCase();
  if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(region)) throw bad(`'${region}' is not an AWS region`);
  const endpoint = parsed.searchParams.get('endpoint') ?? undefined;
  // No user:password in the endpoint: it is shown in every error message. Credentials come from the SDK chain.
  if (endpoint !== undefined && !/^https?:\/\/[^/?#@]+\/?$/.test(endpoint)) {
    throw bad(`endpoint '${maskCredentials(endpoint)}' must be http(s)://host:port, without credentials`);
  }
  const accountId = parsed.searchParams.get('accountId') ?? undefined;
  if (accountId !== undefined && !/^\d{12}$/.test(accountId)) throw bad(`accountId '${accountId}' must be 12 digits`);
  const unknown = [...parsed.searchParams.keys()].find((k) => k !== 'endpoint' && k !== 'accountId');
  if (unknown !== undefined) throw bad(`unknown parameter '${unknown}'`);
  return { region, endpoint, accountId };
}
