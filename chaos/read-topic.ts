// The outside consumer of the chaos suite: reads every partition of a Kafka topic from the
// beginning, without a consumer group (nothing is committed, no rebalance can hide a message),
// with isolation read_committed, so that it sees exactly what a transactional consumer would.
import type { DeliveredEvent } from './checker.js';

type Kafka = typeof import('@platformatic/kafka');

/** The payload the chaos writers put in every event (see writers.ts). */
export interface ChaosPayload {
  readonly key: string;
  readonly seq: number;
  readonly writer: number;
}

/** A flag of the record batch attributes: the batch is a transaction control marker. */
const IS_CONTROL = 0x20;
/** Record batch attribute bit: the batch belongs to a transaction. */
const IS_TRANSACTIONAL = 0x10;

/**
 * Every message of `topic` up to the last stable offset of each partition at the time of the
 * call, as {@link DeliveredEvent}s in partition/offset order. `visibleAtMs` is the broker's
 * append time: the suite creates its topics with `message.timestamp.type=LogAppendTime`.
 * Messages without a `ce_id` header or with a payload that is not a chaos payload are returned
 * with an empty key and seq -1, so the checker counts them as unknown rather than skipping them.
 */
export async function readTopic(bootstrap: string, topic: string, timeoutMs = 10_000): Promise<DeliveredEvent[]> {
  const kafka: Kafka = await import('@platformatic/kafka');
  // A groupId is required by the client's options, but no group is ever joined: only Metadata,
  // ListOffsets and Fetch requests are sent.
  const consumer = new kafka.Consumer({
    clientId: 'herald-chaos-checker',
    groupId: 'herald-chaos-checker-never-joined',
    bootstrapBrokers: [bootstrap],
    timeout: timeoutMs,
    retries: 2,
  });
  try {
    const metadata = await consumer.metadata({ topics: [topic] });
    const info = metadata.topics.get(topic);
    if (!info) throw new Error(`topic '${topic}' not found on ${bootstrap}`);
    const ends = await consumer.listOffsets({ topics: [topic], isolationLevel: kafka.FetchIsolationLevels.READ_COMMITTED });
    const endOf = ends.get(topic) ?? [];
    const out: DeliveredEvent[] = [];
    for (let partition = 0; partition < info.partitionsCount; partition++) {
      const end = endOf[partition] ?? 0n;
      let next = 0n;
      const pendingAborts: { producerId: bigint; firstOffset: bigint }[] = [];
      const abortedProducers = new Set<bigint>();
      const listedAborts = new Set<string>();
      while (next < end) {
        const response = await consumer.fetch({
          node: info.partitions[partition]!.leader,
          topics: [
            {
              topicId: info.id,
              partitions: [
                { partition, fetchOffset: next, partitionMaxBytes: 8 * 1024 * 1024, currentLeaderEpoch: -1, lastFetchedEpoch: -1 },
              ],
            },
          ],
          isolationLevel: kafka.FetchIsolationLevels.READ_COMMITTED,
          maxWaitTime: 200,
          minBytes: 1,
          maxBytes: 16 * 1024 * 1024,
        } as Parameters<typeof consumer.fetch>[0]);
        const p = response.responses[0]?.partitions[0];
        if (!p) throw new Error(`no fetch answer for ${topic}:${partition}`);
        if (p.errorCode !== 0) throw new Error(`fetch of ${topic}:${partition} failed with Kafka error code ${p.errorCode}`);
        const before = next;
        // read_committed: the broker stops at the last stable offset but still returns the
        // records of aborted transactions below it, with the list of those transactions; the
        // client must drop them (as the Java consumer does). A producer's records are aborted
        // from its listed first offset up to its ABORT marker.
        for (const t of (p as { abortedTransactions?: { producerId: bigint; firstOffset: bigint }[] }).abortedTransactions ?? []) {
          // A transaction spanning two fetches is listed by both.
          const seen = `${t.producerId}:${t.firstOffset}`;
          if (!listedAborts.has(seen)) pendingAborts.push(t);
          listedAborts.add(seen);
        }
        pendingAborts.sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0));
        for (const batch of p.records ?? []) {
          const last = batch.firstOffset + BigInt(batch.lastOffsetDelta);
          if (last + 1n > next) next = last + 1n;
          if (last < before) continue;
          while (pendingAborts.length > 0 && pendingAborts[0]!.firstOffset <= last) abortedProducers.add(pendingAborts.shift()!.producerId);
          if (batch.attributes & IS_CONTROL) {
            // Control record key: version (int16), type (int16; 0 = ABORT, 1 = COMMIT).
            if (batch.records[0]?.key?.readInt16BE(2) === 0) abortedProducers.delete(batch.producerId);
            continue;
          }
          if (batch.attributes & IS_TRANSACTIONAL && abortedProducers.has(batch.producerId)) continue;
          for (const record of batch.records) {
            const offset = batch.firstOffset + BigInt(record.offsetDelta);
            if (offset < before || offset >= end) continue;
            out.push(decode(record, partition, Number(offset), Number(batch.maxTimestamp)));
          }
        }
        // An empty answer below the end: the rest is aborted or not yet stable; stop here.
        if (next === before) break;
      }
    }
    return out;
  } finally {
    await new Promise<void>((resolve) => consumer.close(true, () => resolve()));
  }
}

function decode(
  record: { key: Buffer | null; value: Buffer | null; headers: [Buffer | null, Buffer | null][] },
  partition: number,
  offset: number,
  visibleAtMs: number,
): DeliveredEvent {
  let id = '';
  for (const [k, v] of record.headers) if (k?.toString() === 'ce_id' && v) id = v.toString();
  let payload: Partial<ChaosPayload> = {};
  try {
    payload = JSON.parse(record.value?.toString() ?? '') as Partial<ChaosPayload>;
  } catch {
    // Not JSON: left as an unknown message (empty key, seq -1) for the checker to count.
  }
  return {
    id: id || `no-ce_id@${partition}:${offset}`,
    key: typeof payload.key === 'string' ? payload.key : (record.key?.toString() ?? ''),
    seq: typeof payload.seq === 'number' ? payload.seq : -1,
    partition,
    offset,
    visibleAtMs,
  };
}

/** Creates `topic` with 4 partitions and broker append times (the checker's visibility clock). */
export async function createTopic(bootstrap: string, topic: string, partitions = 4): Promise<void> {
  const kafka: Kafka = await import('@platformatic/kafka');
  const admin = new kafka.Admin({ clientId: 'herald-chaos-admin', bootstrapBrokers: [bootstrap], timeout: 10_000, retries: 2 });
  try {
    await admin.createTopics({
      topics: [topic],
      partitions,
      replicas: 1,
      configs: [{ name: 'message.timestamp.type', value: 'LogAppendTime' }],
    });
  } finally {
    await admin.close().catch(() => undefined);
  }
}
