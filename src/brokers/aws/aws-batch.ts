import { HeraldError, ErrorCodes } from '../../errors.js';
import { ceAttributes, reportDelivered, storedPrefixes, type OutgoingEvent } from '../publisher.js';

/** The limits of SNS `PublishBatch` and SQS `SendMessageBatch`, which requests are planned around. */
export const awsBatchLimits = {
  /** Entries of one batch request. */
  batchEntries: 10,
  /** SNS: bytes of one message, and of all the messages of one batch request together (256 KiB). */
  payloadBytes: 262_144,
  /** SQS: the same, since August 2025 (1 MiB). */
  sqsPayloadBytes: 1_048_576,
  /** Message attributes of one message. */
  messageAttributes: 10,
} as const;

/** A String message attribute, as both SDKs type it. */
export interface StringAttribute {
  DataType: string | undefined;
  StringValue?: string | undefined;
}

/** What both services' batch entries have: an id, a body, attributes, and the FIFO fields. */
export interface AwsBatchEntry {
  Id: string | undefined;
  MessageAttributes?: Record<string, StringAttribute> | undefined;
  MessageGroupId?: string | undefined;
  MessageDeduplicationId?: string | undefined;
}

/**
 * CloudEvents binary mode on SNS and SQS: `content-type` plus the `ce-<name>` String attributes
 * of {@link ceAttributes} — exactly the 10 attributes both services allow. Empty values are left
 * out (both refuse empty attribute values).
 */
export function ceMessageAttributes(e: OutgoingEvent): Record<string, { DataType: string; StringValue: string }> {
  const attributes: Record<string, { DataType: string; StringValue: string }> = {
    'content-type': { DataType: 'String', StringValue: e.event.datacontenttype ?? 'application/json' },
  };
  const attrs = e.event as unknown as Record<string, string | undefined>;
  for (const name of ceAttributes) {
    const value = attrs[name];
    if (value !== undefined && value !== '') attributes[`ce-${name}`] = { DataType: 'String', StringValue: value };
  }
  return attributes;
}

/** The bytes AWS counts for an entry: body plus attribute names, types and values. */
function sizeOf(entry: AwsBatchEntry, body: string): number {
  let size = Buffer.byteLength(body, 'utf8');
  for (const [name, value] of Object.entries(entry.MessageAttributes ?? {})) {
    size +=
      Buffer.byteLength(name, 'utf8') +
      Buffer.byteLength(value.DataType ?? '', 'utf8') +
      Buffer.byteLength(value.StringValue ?? '', 'utf8');
  }
  return size;
}

/**
 * Splits entries, in order, into requests of at most 10 entries and `payloadBytes` (SNS: 256 KiB;
 * SQS: 1 MiB; an oversized entry goes alone, for the service to refuse). A FIFO request holds at most one entry per message group: a batch is answered
 * entry by entry, so a failed entry followed by a successful one of the same group would put the
 * group out of order once the failed one is retried.
 */
export function batchRequests<E extends AwsBatchEntry>(
  entries: E[],
  bodyOf: (e: E) => string,
  payloadBytes: number = awsBatchLimits.payloadBytes,
): E[][] {
  const chunks: E[][] = [];
  let current: E[] = [];
  let groups = new Set<string>();
  let bytes = 0;
  for (const entry of entries) {
    const size = sizeOf(entry, bodyOf(entry));
    const group = entry.MessageGroupId;
    const full = current.length === awsBatchLimits.batchEntries || bytes + size > payloadBytes;
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

/** The per-entry answer of a batch request. */
export interface AwsBatchAnswer {
  readonly Successful?: readonly { Id?: string | undefined }[] | undefined;
  readonly Failed?:
    | readonly { Id?: string | undefined; Code?: string | undefined; Message?: string | undefined; SenderFault?: boolean | undefined }[]
    | undefined;
}

/**
 * Resolves only when every entry was answered as successful. A failed entry with `SenderFault`
 * (the message's fault: too large, invalid group) is `PUBLISH_REJECTED`; others, and entries left
 * unanswered, are a retryable `PUBLISH_FAILED`.
 */
export function checkBatchAnswer(service: 'sns' | 'sqs', out: AwsBatchAnswer, entries: readonly AwsBatchEntry[], what: string): void {
  const failed = out.Failed ?? [];
  const succeeded = new Set((out.Successful ?? []).map((s) => s.Id));
  if (failed.length === 0 && entries.every((e) => succeeded.has(e.Id))) return;
  const reasons = [...new Set(failed.map((f) => `${f.Code ?? 'unknown'}: ${f.Message ?? ''}`.trim()))].slice(0, 3).join('; ');
  const details = { failed: failed.map((f) => ({ entry: f.Id, code: f.Code, senderFault: f.SenderFault })) };
  if (failed.length === 0) {
    throw new HeraldError(
      ErrorCodes.PUBLISH_FAILED,
      `${what}: ${service} acknowledged only ${succeeded.size} of ${entries.length} entries`,
      {
        retryable: true,
        details,
      },
    );
  }
  if (failed.some((f) => f.SenderFault === true)) {
    throw new HeraldError(
      ErrorCodes.PUBLISH_REJECTED,
      `${what}: ${failed.length} of ${entries.length} entries rejected by ${service}: ${reasons}`,
      { details },
    );
  }
  throw new HeraldError(ErrorCodes.PUBLISH_FAILED, `${what}: ${failed.length} of ${entries.length} entries failed: ${reasons}`, {
    retryable: true,
    details,
  });
}

/**
 * Publishes each destination's events with `send`, destinations concurrently, and rejects with the
 * first failure. `send` gets the events' indices in `batch`, to use as batch-entry ids
 * (`e<index>`, see {@link entryId}), and records each request's answer with `stored`. A rejection
 * then reports (`reportDelivered`, per key a prefix) the events the service answered as stored,
 * so that the relay does not send those again.
 */
export async function byDestination(
  batch: readonly OutgoingEvent[],
  send: (topic: string, events: OutgoingEvent[], indices: number[], stored: (answer: AwsBatchAnswer) => void) => Promise<void>,
): Promise<void> {
  const byTopic = new Map<string, { events: OutgoingEvent[]; indices: number[] }>();
  batch.forEach((e, i) => {
    const group = byTopic.get(e.topic) ?? { events: [], indices: [] };
    group.events.push(e);
    group.indices.push(i);
    byTopic.set(e.topic, group);
  });
  const stored = new Set<number>();
  const record = (answer: AwsBatchAnswer): void => {
    for (const s of answer.Successful ?? []) if (s.Id !== undefined) stored.add(Number(s.Id.slice(1)));
  };
  try {
    await settleAll([...byTopic].map(([topic, { events, indices }]) => send(topic, events, indices, record)));
  } catch (err) {
    throw err instanceof HeraldError ? reportDelivered(err, storedPrefixes(batch, (i) => stored.has(i))) : err;
  }
}

/** The batch-entry id of the event at `index` of the batch; {@link byDestination} reads it back. */
export function entryId(index: number): string {
  return `e${index}`;
}

/** Waits for every promise, then rejects with the first failure, so no request is left running. */
export async function settleAll(work: readonly Promise<void>[]): Promise<void> {
  const results = await Promise.allSettled(work);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}
