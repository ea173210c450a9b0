import { HeraldError, ErrorCodes } from '../../errors.js';
import { importPeer } from '../peer.js';
import type { OutgoingEvent, Publisher } from '../publisher.js';
import {
  awsBatchLimits,
  batchRequests as planRequests,
  byDestination,
  ceMessageAttributes,
  checkBatchAnswer,
  entryId,
  settleAll,
  type AwsBatchAnswer,
} from '../aws/aws-batch.js';
import { classifyAwsError, type AwsService } from '../aws/aws-errors.js';
import { awsWhere, parseAwsUrl, partitionOf, type AwsUrl } from '../aws/aws-url.js';

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

/** SNS's limits, which the publisher plans its requests around (the same as SQS's). */
export const snsLimits = awsBatchLimits;

type SnsModule = typeof import('@aws-sdk/client-sns');
type SNSClient = import('@aws-sdk/client-sns').SNSClient;
type BatchEntry = import('@aws-sdk/client-sns').PublishBatchRequestEntry;

/** A parsed `sns://` URL. */
export type SnsUrl = AwsUrl;

const SNS: AwsService = { name: 'sns', destination: 'topic', notFound: new Set(['NotFoundException', 'NotFound']) };

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
    // Topics are independent destinations; within one, the order of requests matters for FIFO.
    await byDestination(batch, (topic, events, indices, stored) => this.#publishTopic(client, topic, events, indices, stored));
  }

  async #publishTopic(
    client: SNSClient,
    topic: string,
    events: readonly OutgoingEvent[],
    indices: readonly number[],
    stored: (answer: AwsBatchAnswer) => void,
  ): Promise<void> {
    const what = (): string => `cannot publish ${events.length} event(s) to sns topic '${topic}' in ${this.#where()}`;
    const arn = await this.#arn(client, topic, what);
    const fifo = arn.endsWith('.fifo');
    const chunks = batchRequests(events.map((e, i) => toEntry(e, indices[i]!, fifo)));
    if (fifo) {
      for (const entries of chunks) await this.#publishBatch(client, arn, entries, what, stored);
    } else {
      await settleAll(chunks.map((entries) => this.#publishBatch(client, arn, entries, what, stored)));
    }
  }

  async #publishBatch(
    client: SNSClient,
    arn: string,
    entries: BatchEntry[],
    what: () => string,
    stored: (answer: AwsBatchAnswer) => void,
  ): Promise<void> {
    const sns = this.#sns!;
    const out = await client
      .send(new sns.PublishBatchCommand({ TopicArn: arn, PublishBatchRequestEntries: entries }))
      .catch((cause: unknown) => {
        throw classify(cause, what());
      });
    stored(out);
    checkBatchAnswer('sns', out, entries, what());
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
    return awsWhere(this.#url);
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

/** One `PublishBatch` entry for the batch's event at `index`: body = `data`, CloudEvents attributes as `ce-*` String attributes. */
function toEntry(e: OutgoingEvent, index: number, fifo: boolean): BatchEntry {
  return {
    Id: entryId(index),
    Message: e.data,
    MessageAttributes: ceMessageAttributes(e),
    ...(fifo ? { MessageGroupId: e.event.partitionkey, MessageDeduplicationId: e.event.id } : {}),
  };
}

/** SNS `PublishBatch` requests of `entries`, per {@link planRequests} (10 entries, 256 KiB, one entry per FIFO group). */
export function batchRequests(entries: BatchEntry[]): BatchEntry[][] {
  return planRequests(entries, (e) => e.Message ?? '');
}

/** Turns an SDK error of SNS into a HeraldError, per `classifyAwsError`. */
export function classify(cause: unknown, what: string): HeraldError {
  return classifyAwsError(cause, what, SNS);
}

/** Parses `sns://<region>[?endpoint=http://host:port][&accountId=123456789012]`. */
export function parseSnsUrl(url: string): SnsUrl {
  return parseAwsUrl(url, 'sns');
}
