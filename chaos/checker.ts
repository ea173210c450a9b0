// The checker every chaos scenario shares: it compares what the writers know they committed (and
// rolled back) with what an outside consumer read back from the broker, and says what was lost,
// what should never have been delivered, what came twice and what came out of per-key order.
// It is a pure function of its input so that it can be tested on hand-made cases.

/** An event a writer saw committed: its transaction's COMMIT returned successfully. */
export interface CommittedEvent {
  readonly id: string;
  readonly key: string;
  /**
   * The event's position among its key's events. Writers must make it grow in commit order per
   * key (one writer per key, one transaction at a time), so that it *is* the per-key commit order.
   */
  readonly seq: number;
  /** Wall-clock ms when COMMIT returned. */
  readonly committedAtMs: number;
}

/** One message the consumer read, in the consumer's read order within its partition. */
export interface DeliveredEvent {
  readonly id: string;
  readonly key: string;
  readonly seq: number;
  readonly partition: number;
  readonly offset: number;
  /** Wall-clock ms when the message became visible (the broker's append time). */
  readonly visibleAtMs: number;
}

/** Everything the checker judges. */
export interface CheckInput {
  readonly committed: readonly CommittedEvent[];
  /** Ids of events whose transaction was rolled back: they must never be delivered. */
  readonly rolledBack: readonly string[];
  /**
   * Ids whose COMMIT had no answer (the connection broke while it was in flight): the writer
   * cannot know whether they exist, so they are neither lost when missing nor wrong when delivered.
   */
  readonly uncertain?: readonly string[];
  /** Every message read back, from the start of every partition. */
  readonly delivered: readonly DeliveredEvent[];
  /** Wall-clock ms when the fault ended; without it there is no recovery time. */
  readonly faultEndedAtMs?: number;
}

/** A per-key order violation: `seq` was first delivered after `afterSeq` of the same key. */
export interface Reorder {
  readonly key: string;
  readonly id: string;
  readonly seq: number;
  readonly afterSeq: number;
}

/** What the checker found. Counts are of events (ids) unless they say messages. */
export interface CheckResult {
  readonly committed: number;
  readonly rolledBack: number;
  readonly uncertain: number;
  /** Messages read back, duplicates included. */
  readonly messages: number;
  /** Committed events never read back. */
  readonly lost: readonly string[];
  /** Rolled-back events that were read back (each counted once). */
  readonly rolledBackDelivered: readonly string[];
  /** Messages beyond the first of their event id. */
  readonly duplicates: number;
  /** Event ids read back more than once. */
  readonly duplicatedIds: number;
  /** First deliveries that came after a later event of the same key. */
  readonly reorders: readonly Reorder[];
  /**
   * Duplicates that arrived after a later event of the same key had been delivered: a consumer
   * that does not deduplicate sees the key go back in time. Counted within `duplicates`.
   */
  readonly lateDuplicates: number;
  /** Messages whose id no writer recorded at all (committed, rolled back or uncertain). */
  readonly unknown: number;
  /** Longest wait of a committed event from its COMMIT to its first visibility, in ms (0 when none was read). */
  readonly maxDelayMs: number;
  /**
   * Ms from the end of the fault until the last committed event was first visible (0 when
   * everything was visible before the fault ended); undefined without a fault end or when
   * something committed was lost (it never recovered).
   */
  readonly recoveryMs: number | undefined;
}

/**
 * Judges one run. Guarantees: every committed id is either in `lost` or was read back; a
 * reorder is counted only on an event's *first* delivery (a redelivered older event is a
 * duplicate, not a reorder), compared per key by read order, partition by partition; an
 * uncertain id never counts as lost, rolled back or unknown.
 */
export function check(input: CheckInput): CheckResult {
  const rolledBack = new Set(input.rolledBack);
  const uncertain = new Set(input.uncertain ?? []);
  const committedById = new Map(input.committed.map((e) => [e.id, e]));

  // Read order: partition by partition, by offset. A key lives in one partition, so this is the
  // order a consumer of that key sees.
  const inReadOrder = [...input.delivered].sort((a, b) => a.partition - b.partition || a.offset - b.offset);

  const firstVisible = new Map<string, number>();
  const seenCount = new Map<string, number>();
  const maxSeqOfKey = new Map<string, number>();
  const reorders: Reorder[] = [];
  let unknown = 0;
  let lateDuplicates = 0;
  for (const m of inReadOrder) {
    const count = (seenCount.get(m.id) ?? 0) + 1;
    seenCount.set(m.id, count);
    if (count > 1) {
      const known = committedById.get(m.id);
      const max = maxSeqOfKey.get(known?.key ?? m.key);
      if (max !== undefined && (known?.seq ?? m.seq) < max) lateDuplicates++;
      continue;
    }
    firstVisible.set(m.id, m.visibleAtMs);
    const known = committedById.get(m.id);
    if (!known && !rolledBack.has(m.id) && !uncertain.has(m.id)) unknown++;
    // The writer's record wins over the payload: it is what was committed.
    const key = known?.key ?? m.key;
    const seq = known?.seq ?? m.seq;
    const max = maxSeqOfKey.get(key);
    if (max !== undefined && seq < max) reorders.push({ key, id: m.id, seq, afterSeq: max });
    if (max === undefined || seq > max) maxSeqOfKey.set(key, seq);
  }

  const lost = input.committed.filter((e) => !seenCount.has(e.id)).map((e) => e.id);
  const rolledBackDelivered = [...rolledBack].filter((id) => seenCount.has(id));
  let duplicates = 0;
  let duplicatedIds = 0;
  for (const n of seenCount.values()) {
    if (n > 1) {
      duplicates += n - 1;
      duplicatedIds++;
    }
  }

  let maxDelayMs = 0;
  for (const e of input.committed) {
    const visible = firstVisible.get(e.id);
    if (visible !== undefined) maxDelayMs = Math.max(maxDelayMs, visible - e.committedAtMs);
  }

  let recoveryMs: number | undefined;
  if (input.faultEndedAtMs !== undefined && lost.length === 0) {
    let last = input.faultEndedAtMs;
    for (const e of input.committed) last = Math.max(last, firstVisible.get(e.id)!);
    recoveryMs = last - input.faultEndedAtMs;
  }

  return {
    committed: input.committed.length,
    rolledBack: rolledBack.size,
    uncertain: uncertain.size,
    messages: input.delivered.length,
    lost,
    rolledBackDelivered,
    duplicates,
    duplicatedIds,
    reorders,
    lateDuplicates,
    unknown,
    maxDelayMs,
    recoveryMs,
  };
}
