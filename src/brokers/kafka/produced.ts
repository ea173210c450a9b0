/**
 * What a failed `@platformatic/kafka` send stored anyway. The client sends one Produce request per
 * partition leader, and Kafka answers for each partition on its own: a record batch too large for
 * one partition (MESSAGE_TOO_LARGE) is refused while the other partitions of the same request
 * store theirs. The client rejects the whole send, but keeps the answers: the offsets of the
 * requests that succeeded (`produced.offsets` on the rejection) and, in each refused request's
 * `ResponseError`, the `response` with an error code per partition (0: stored, with `acks=all`).
 */

/** `topic` and partition, as one key. */
export function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

interface ProduceResponse {
  responses?: { name?: unknown; partitionResponses?: { index?: unknown; errorCode?: unknown }[] }[];
}

interface SendFailure {
  produced?: { offsets?: { topic?: unknown; partition?: unknown }[] };
  response?: ProduceResponse;
  errors?: unknown[];
  cause?: unknown;
}

/**
 * The partitions (as {@link partitionKey}) whose records a rejected send stored, from every
 * answer in the rejection (earlier attempts included: a partition stored once stays stored).
 * Empty when nothing is known, such as after a timeout; never lists a partition the broker did
 * not acknowledge.
 */
export function storedPartitions(failure: unknown): Set<string> {
  const stored = new Set<string>();
  const visit = (err: unknown, depth: number): void => {
    if (err === null || typeof err !== 'object' || depth > 6) return;
    const e = err as SendFailure;
    for (const o of e.produced?.offsets ?? []) {
      if (typeof o.topic === 'string' && typeof o.partition === 'number') stored.add(partitionKey(o.topic, o.partition));
    }
    for (const topic of Array.isArray(e.response?.responses) ? e.response.responses : []) {
      for (const p of topic.partitionResponses ?? []) {
        if (typeof topic.name === 'string' && typeof p.index === 'number' && p.errorCode === 0)
          stored.add(partitionKey(topic.name, p.index));
      }
    }
    for (const nested of Array.isArray(e.errors) ? e.errors : []) visit(nested, depth + 1);
    if (e.cause !== undefined) visit(e.cause, depth + 1);
  };
  visit(failure, 0);
  return stored;
}
