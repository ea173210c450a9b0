import { HeraldError, ErrorCodes } from '../../errors.js';
import { importPeer } from '../peer.js';
import type { OutgoingEvent, Publisher } from '../publisher.js';
import {
  awsBatchLimits,
  batchRequests,
  byDestination,
  ceMessageAttributes,
  checkBatchAnswer,
  entryId,
  settleAll,
  type AwsBatchAnswer,
} from '../aws/aws-batch.js';
import { classifyAwsError, type AwsService } from '../aws/aws-errors.js';
import { awsWhere, parseAwsUrl, type AwsUrl } from '../aws/aws-url.js';
import { snsDefaults, type SnsStaticCredentials } from '../sns/publisher.js';

/** Options of {@link SqsPublisher}; defaults are those of SNS ({@link snsDefaults}). */
export interface SqsPublisherOptions {
  /**
   * `sqs://<region>[?endpoint=http://host:port][&accountId=123456789012]`. `endpoint` points the
   * client at an SQS-compatible server instead of AWS; `accountId` names the queues' owner when it
   * is another account.
   */
  readonly url: string;
  /** Create missing queues in `prepare()` (a `.fifo` name makes a FIFO queue) instead of failing. Default false. */
  readonly createTopics?: boolean;
  /** Timeout of connecting and of each request, in ms. Default 5000. */
  readonly timeoutMs?: number;
  /** Attempts the SDK makes for one request, with its own backoff. Default 3. */
  readonly maxAttempts?: number;
  /** Explicit credentials. Default: the AWS SDK's default chain. */
  readonly credentials?: SnsStaticCredentials;
}

type SqsModule = typeof import('@aws-sdk/client-sqs');
type SQSClient = import('@aws-sdk/client-sqs').SQSClient;
type BatchEntry = import('@aws-sdk/client-sqs').SendMessageBatchRequestEntry;

const SQS: AwsService = {
  name: 'sqs',
  destination: 'queue',
  notFound: new Set(['QueueDoesNotExist', 'AWS.SimpleQueueService.NonExistentQueue', 'NonExistentQueue']),
};

/**
 * Publishes straight to Amazon SQS queues with `@aws-sdk/client-sqs` (an optional peer). Topic =
 * queue name (or a full queue URL); a name ending in `.fifo` is a FIFO queue.
 *
 * - Durability: `publish` resolves after SQS answered every entry of `SendMessageBatch` as
 *   successful, that is after it stored the message redundantly.
 * - Requests: at most 10 entries and 1 MiB each, in batch order; for a FIFO queue at most one
 *   entry per message group per request, requests sent one after another and the first failure
 *   stops the batch; for a standard queue concurrently.
 * - Ordering: FIFO queues: `MessageGroupId` = the partition key, so each key's events are received
 *   in batch order. Standard queues do not order.
 * - Deduplication: FIFO queues: `MessageDeduplicationId` = the event id, so SQS drops a retried event
 *   within its 5-minute window. Standard queues may deliver twice; consumers deduplicate on `ce-id`.
 * - CloudEvents, binary mode: the body is `data` exactly; `content-type` and `ce-*` String message
 *   attributes (exactly SQS's limit of 10).
 * - Rejects as the SNS publisher does: `BROKER_UNAVAILABLE` (unreachable, credentials),
 *   `TOPIC_NOT_FOUND` (no such queue), `PUBLISH_REJECTED` (an entry failed with `SenderFault`, or a
 *   client error), `PUBLISH_FAILED` (throttling, server faults). When it rejects, it reports the
 *   events SQS answered as stored (`reportDelivered`, per key a prefix), so that the relay does
 *   not send them again; a timed-out request reports none, and those may have been sent.
 */
export class SqsPublisher implements Publisher {
  readonly name = 'sqs';
  readonly #url: AwsUrl;
  readonly #options: Required<Omit<SqsPublisherOptions, 'url' | 'credentials'>> & { credentials: SnsStaticCredentials | undefined };
  readonly #queueUrls = new Map<string, string>();
  #sqs: SqsModule | undefined;
  #client: SQSClient | undefined;
  #closed = false;

  constructor(options: SqsPublisherOptions) {
    this.#url = parseAwsUrl(options.url, 'sqs');
    this.#options = { ...snsDefaults, ...options, credentials: options.credentials };
    for (const o of ['timeoutMs', 'maxAttempts'] as const) {
      if (!Number.isInteger(this.#options[o]) || this.#options[o] < 1) {
        throw new HeraldError(ErrorCodes.CONFIG_INVALID, `sqs option '${o}' must be a positive integer`, { details: { option: o } });
      }
    }
  }

  async prepare(topics: readonly string[]): Promise<void> {
    this.#checkOpen();
    const client = await this.#connect();
    for (const queue of new Set(topics)) {
      const found = await this.#queueUrl(client, queue, `cannot find sqs queue '${queue}' in ${awsWhere(this.#url)}`).catch(
        (err: unknown) => {
          if (!(err instanceof HeraldError) || err.code !== ErrorCodes.TOPIC_NOT_FOUND) throw err;
          return undefined;
        },
      );
      if (found !== undefined) continue;
      if (!this.#options.createTopics) {
        throw new HeraldError(
          ErrorCodes.TOPIC_NOT_FOUND,
          `sqs queue '${queue}' does not exist in ${awsWhere(this.#url)}; create it, map the contract to an existing queue, or pass --create-topics`,
          { details: { topics: [queue] } },
        );
      }
      const fifo = queue.endsWith('.fifo');
      // CreateQueue with the same attributes is idempotent: a queue another relay just created is returned.
      const created = await client
        .send(new this.#sqs!.CreateQueueCommand({ QueueName: queue, ...(fifo ? { Attributes: { FifoQueue: 'true' } } : {}) }))
        .catch((cause: unknown) => {
          throw classifyAwsError(cause, `cannot create sqs queue '${queue}' in ${awsWhere(this.#url)}`, SQS);
        });
      this.#queueUrls.set(queue, created.QueueUrl!);
    }
  }

  async publish(batch: readonly OutgoingEvent[]): Promise<void> {
    this.#checkOpen();
    if (batch.length === 0) return;
    const client = await this.#connect();
    await byDestination(batch, (queue, events, indices, stored) => this.#publishQueue(client, queue, events, indices, stored));
  }

  async #publishQueue(
    client: SQSClient,
    queue: string,
    events: readonly OutgoingEvent[],
    indices: readonly number[],
    stored: (answer: AwsBatchAnswer) => void,
  ): Promise<void> {
    const what = `cannot send ${events.length} event(s) to sqs queue '${queue}' in ${awsWhere(this.#url)}`;
    const queueUrl = await this.#queueUrl(client, queue, what);
    const fifo = queue.endsWith('.fifo');
    const chunks = batchRequests(
      events.map((e, i): BatchEntry => ({
        Id: entryId(indices[i]!),
        MessageBody: e.data,
        MessageAttributes: ceMessageAttributes(e),
        ...(fifo ? { MessageGroupId: e.event.partitionkey, MessageDeduplicationId: e.event.id } : {}),
      })),
      (e) => e.MessageBody ?? '',
      awsBatchLimits.sqsPayloadBytes,
    );
    const send = async (entries: BatchEntry[]): Promise<void> => {
      const out = await client
        .send(new this.#sqs!.SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }))
        .catch((cause: unknown) => {
          throw classifyAwsError(cause, what, SQS);
        });
      stored(out);
      checkBatchAnswer('sqs', out, entries, what);
    };
    if (fifo) for (const entries of chunks) await send(entries);
    else await settleAll(chunks.map(send));
  }

  /** The queue's URL: given, cached, or from `GetQueueUrl`. */
  async #queueUrl(client: SQSClient, queue: string, what: string): Promise<string> {
    if (/^https?:\/\//.test(queue)) return queue;
    const known = this.#queueUrls.get(queue);
    if (known) return known;
    const out = await client
      .send(
        new this.#sqs!.GetQueueUrlCommand({
          QueueName: queue,
          ...(this.#url.accountId === undefined ? {} : { QueueOwnerAWSAccountId: this.#url.accountId }),
        }),
      )
      .catch((cause: unknown) => {
        throw classifyAwsError(cause, what, SQS);
      });
    this.#queueUrls.set(queue, out.QueueUrl!);
    return out.QueueUrl!;
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

  #checkOpen(): void {
    if (this.#closed) throw new HeraldError(ErrorCodes.CLOSED, 'sqs publisher is closed');
  }

  async #connect(): Promise<SQSClient> {
    if (this.#client) return this.#client;
    this.#sqs ??= await importPeer('sqs', ['@aws-sdk/client-sqs'], () => import('@aws-sdk/client-sqs'));
    this.#client = new this.#sqs.SQSClient({
      region: this.#url.region,
      ...(this.#url.endpoint === undefined ? {} : { endpoint: this.#url.endpoint }),
      ...(this.#options.credentials === undefined ? {} : { credentials: this.#options.credentials }),
      maxAttempts: this.#options.maxAttempts,
      requestHandler: { connectionTimeout: this.#options.timeoutMs, requestTimeout: this.#options.timeoutMs },
    });
    return this.#client;
  }
}
