import { randomUUID } from 'node:crypto';
import { HeraldError, ErrorCodes } from '../errors.js';
import { bounded } from '../brokers/bounded.js';
import { decodeIncoming } from '../brokers/incoming.js';
import { describeKafkaError, kafkaErrorChain, parseKafkaBrokers } from '../brokers/kafka/publisher.js';
import { importPeer } from '../brokers/peer.js';
import type { ObservedEvent } from './reconcile.js';

/** Options of {@link readKafkaEvents}; defaults in {@link kafkaReadDefaults}. */
export interface KafkaReadOptions {
  /** `kafka://host:port[,host:port...]`, or a list of `host:port`. */
  readonly brokers: string | readonly string[];
  /** The topics to read, whole. */
  readonly topics: readonly string[];
  /** Longest the whole read may take, in ms; past it the read rejects with `BROKER_UNAVAILABLE`. */
  readonly timeoutMs?: number;
  /** Per-request timeout of the client, in ms. */
  readonly requestTimeoutMs?: number;
  /** Attempts the client makes for one request. */
  readonly retries?: number;
  readonly clientId?: string;
  /** Bytes per partition and fetch (a record batch larger than this still comes whole). */
  readonly maxBytesPerPartition?: number;
  /**
   * Called after each fetch with the offsets read so far and the offsets there are to read (end
   * minus earliest, over every partition, control records included): for a progress line.
   */
  readonly onProgress?: (offsetsRead: number, offsetsTotal: number) => void;
}

/** The defaults of {@link KafkaReadOptions}, in one table. */
export const kafkaReadDefaults = {
  timeoutMs: 120_000,
  requestTimeoutMs: 5_000,
  retries: 2,
  clientId: 'herald-reconcile',
  maxBytesPerPartition: 4 * 1024 * 1024,
} as const;

/** What {@link readKafkaEvents} read. */
export interface KafkaRead {
  /** One entry per message, in topic, partition, offset order. */
  readonly events: ObservedEvent[];
  /** Messages read (control records of transactions excluded). */
  readonly messages: number;
  /** Per topic, the end offset of each partition taken at the start: what "the end" meant. */
  readonly endOffsets: Readonly<Record<string, readonly string[]>>;
}

type Consumer = import('@platformatic/kafka').Consumer<Buffer, Buffer, Buffer, Buffer>;
type FetchTopic = import('@platformatic/kafka').FetchOptions<Buffer, Buffer, Buffer, Buffer>['topics'][number];

/** Bit 5 of a record batch's attributes: a transaction marker, not a message. */
const IS_CONTROL = 1 << 5;

/**
 * Reads every message of Kafka topics from the earliest offset up to the end offsets taken when
 * the read starts, so messages published meanwhile are not waited for. It fetches partition by
 * partition from the leaders without joining a consumer group: nothing is committed and no other
 * consumer's offsets or assignments change.
 *
 * - Each message becomes an {@link ObservedEvent}: `id` from `ce_id` (or, for a message without
 *   one, `<topic>@<partition>:<offset>`, so it is still reported), `type` from `ce_type`, the
 *   contract id from a Herald `ce_dataschema` (`urn:herald:contract:<id>:<version>`), `time` from
 *   `ce_time`, `position` `partition:offset`. Structured-mode messages are unpacked too. Payloads
 *   are never kept.
 * - Rejects with `TOPIC_NOT_FOUND` naming a missing topic, and with `BROKER_UNAVAILABLE`
 *   (retryable) when the cluster cannot be reached or the read takes longer than `timeoutMs`.
 */
export async function readKafkaEvents(options: KafkaReadOptions): Promise<KafkaRead> {
  const brokers = parseKafkaBrokers(options.brokers);
  const o = { ...kafkaReadDefaults, ...stripUndefined(options) };
  for (const option of ['timeoutMs', 'requestTimeoutMs', 'maxBytesPerPartition'] as const) {
    if (!(Number.isInteger(o[option]) && o[option] > 0)) invalid(option, 'a positive integer');
  }
  if (!(Number.isInteger(o.retries) && o.retries >= 0)) invalid('retries', 'a whole number, 0 or more');
  const topics = [...new Set(options.topics)];
  if (topics.length === 0 || topics.some((t) => typeof t !== 'string' || t === '')) invalid('topics', 'a list of topic names');
  const kafka = await importPeer('kafka', ['@platformatic/kafka'], () => import('@platformatic/kafka'), 'subscriber');
  const where = brokers.join(',');
  const what = `cannot read kafka topic(s) ${topics.map((t) => `'${t}'`).join(', ')} from ${where}`;
  // The client needs a group id, but this consumer never joins the group: a random one keeps it
  // from touching any real group.
  const consumer: Consumer = new kafka.Consumer({
    clientId: o.clientId,
    bootstrapBrokers: brokers,
    groupId: `herald-reconcile-${randomUUID()}`,
    timeout: o.requestTimeoutMs,
    retries: o.retries,
    autocreateTopics: false,
  });
  const deadline = Date.now() + o.timeoutMs;
  const step = <T>(operation: Promise<T>): Promise<T> =>
    bounded(operation, Math.max(1, deadline - Date.now()), () => unavailable(`${what}: no answer within ${o.timeoutMs} ms`, where));
  try {
    // One topic per request first: the client's "Unknown topic" error may name another topic of
    // the request than the one that is missing.
    for (const t of topics) {
      await step(consumer.metadata({ topics: [t], autocreateTopics: false })).catch((cause: unknown) => {
        if (kafkaErrorChain(cause).some((e) => /^unknown topic/i.test(e.message) || e.apiId === 'UNKNOWN_TOPIC_OR_PARTITION')) {
          throw notFound(t, where, cause);
        }
        return fail(cause, what, where);
      });
    }
    const metadata = await step(consumer.metadata({ topics, autocreateTopics: false, forceUpdate: true })).catch((cause: unknown) =>
      fail(cause, what, where),
    );
    const absent = topics.find((t) => !metadata.topics.has(t));
    if (absent !== undefined) throw notFound(absent, where);
    const [starts, ends] = await step(
      Promise.all([consumer.listOffsets({ topics, timestamp: -2n }), consumer.listOffsets({ topics, timestamp: -1n })]),
    ).catch((cause: unknown) => fail(cause, what, where));
    const events: ObservedEvent[] = [];
    let messages = 0;
    let offsetsRead = 0n;
    let offsetsTotal = 0n;
    for (const topic of topics) {
      const end = ends.get(topic) ?? [];
      end.forEach((stop, p) => (offsetsTotal += stop - (starts.get(topic)?.[p] ?? 0n)));
    }
    const endOffsets: Record<string, string[]> = {};
    for (const topic of topics) {
      const info = metadata.topics.get(topic)!;
      const end = ends.get(topic) ?? [];
      endOffsets[topic] = end.map((e) => String(e));
      for (let partition = 0; partition < info.partitionsCount; partition++) {
        const stop = end[partition] ?? 0n;
        let next = starts.get(topic)?.[partition] ?? 0n;
        while (next < stop) {
          const leader = info.partitions[partition]!;
          const request: FetchTopic = {
            topicId: info.id,
            partitions: [
              {
                partition,
                fetchOffset: next,
                partitionMaxBytes: o.maxBytesPerPartition,
                currentLeaderEpoch: leader.leaderEpoch,
                lastFetchedEpoch: -1,
              },
            ],
          };
          const response = await step(
            consumer.fetch({ node: leader.leader, topics: [request], maxWaitTime: 500, minBytes: 1, maxBytes: o.maxBytesPerPartition }),
          ).catch((cause: unknown) => fail(cause, what, where));
          const batches = response.responses.flatMap((r) => r.partitions).flatMap((p) => p.records ?? []);
          const before = next;
          for (const batch of batches) {
            const last = batch.firstOffset + BigInt(batch.lastOffsetDelta);
            if (last + 1n > next) next = last + 1n;
            if (batch.attributes & IS_CONTROL) continue;
            for (const record of batch.records) {
              const offset = batch.firstOffset + BigInt(record.offsetDelta);
              // A fetch starts at the batch holding the offset asked for, and the end is fixed.
              if (offset < before || offset >= stop) continue;
              messages++;
              events.push(observed(topic, partition, offset, record.headers, record.value));
            }
          }
          // Kafka returns at least one whole batch when there is data at the offset, so this is a
          // safety net: rather than spin on an answer without batches, stop reading the
          // partition. What was not read shows as missing, never as present.
          if (next === before) break;
          offsetsRead += next - before;
          options.onProgress?.(Number(offsetsRead), Number(offsetsTotal));
        }
      }
    }
    return { events, messages, endOffsets };
  } finally {
    // Forced: nothing is in flight any more, and an unreachable cluster must not hold the close up.
    const closed = new Promise<void>((resolve) => consumer.close(true, () => resolve()));
    await bounded(closed, o.requestTimeoutMs, () => new Error('close timed out')).catch(() => undefined);
  }
}

const DATASCHEMA = /^urn:herald:contract:(.+):\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/;

function observed(
  topic: string,
  partition: number,
  offset: bigint,
  rawHeaders: readonly (readonly [Buffer | null, Buffer | null])[],
  value: Buffer | null,
): ObservedEvent {
  const headers: [string, string][] = [];
  let structured = false;
  for (const [k, v] of rawHeaders) {
    if (k === null || v === null) continue;
    const name = k.toString('utf8');
    const text = v.toString('utf8');
    if (/^content[-_]type$/i.test(name) && /^application\/cloudevents\+json\b/i.test(text)) structured = true;
    headers.push([name, text]);
  }
  const position = `${partition}:${offset}`;
  // Only a structured-mode message needs its body, which then holds the attributes.
  const { attributes: a } = decodeIncoming(topic, position, headers, 'ce_', structured ? (value?.toString('utf8') ?? '') : '');
  const contract = a.dataschema === undefined ? undefined : DATASCHEMA.exec(a.dataschema)?.[1];
  return {
    id: a.id || `${topic}@${position}`,
    ...(contract === undefined ? {} : { contract }),
    ...(a.type === undefined ? {} : { type: a.type }),
    ...(a.time === undefined ? {} : { time: a.time }),
    position,
    topic,
  };
}

function fail(cause: unknown, what: string, where: string): never {
  if (cause instanceof HeraldError) throw cause;
  const chain = kafkaErrorChain(cause);
  if (chain.some((e) => e.apiId === 'UNKNOWN_TOPIC_OR_PARTITION' || e.apiId === 'UNKNOWN_TOPIC_ID' || /^unknown topic/i.test(e.message))) {
    throw new HeraldError(ErrorCodes.TOPIC_NOT_FOUND, `${what}: ${describeKafkaError(cause)}; check --topics`, { cause });
  }
  throw unavailable(`${what}: ${describeKafkaError(cause)}`, where, cause);
}

function notFound(topic: string, where: string, cause?: unknown): HeraldError {
  return new HeraldError(
    ErrorCodes.TOPIC_NOT_FOUND,
    `kafka topic '${topic}' does not exist on ${where}; check --topics or the contracts' topics`,
    {
      cause,
      details: { topics: [topic] },
    },
  );
}

function unavailable(message: string, where: string, cause?: unknown): HeraldError {
  return new HeraldError(ErrorCodes.BROKER_UNAVAILABLE, `${message}; check the address (${where}) and that the broker is running`, {
    cause,
    retryable: true,
  });
}

function invalid(option: string, rule: string): never {
  throw new HeraldError(ErrorCodes.CONFIG_INVALID, `kafka reconcile option '${option}' must be ${rule}`, { details: { option } });
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
