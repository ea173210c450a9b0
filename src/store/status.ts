import type { StoreStatus, TopicStatus } from './port.js';

/** One topic of a store's pending-events query: numbers, or the numeric text some drivers return. */
export interface PendingByTopic {
  readonly topic: unknown;
  readonly pending: unknown;
  readonly retrying: unknown;
  /** Seconds since the oldest pending event was written; null when none is pending. */
  readonly oldest: unknown;
}

/** One topic of a store's dead-letter count query. */
export interface DeadByTopic {
  readonly topic: unknown;
  readonly dead: unknown;
}

/**
 * The common `herald status` answer from every store's three queries (pending per topic, dead
 * letters per topic, live relays): topics merged and sorted by name, totals summed, the oldest
 * age the largest of the topics'. Pure, so every store reports the same shape the same way.
 */
export function summarizeStatus(pending: readonly PendingByTopic[], dead: readonly DeadByTopic[], relays: unknown): StoreStatus {
  const topics = new Map<string, TopicStatus>();
  for (const r of pending) {
    const topic = String(r.topic);
    topics.set(topic, {
      topic,
      pending: Number(r.pending),
      retrying: Number(r.retrying),
      oldestPendingSeconds: r.oldest === null || r.oldest === undefined ? null : Number(r.oldest),
      deadLettered: 0,
    });
  }
  for (const r of dead) {
    const topic = String(r.topic);
    const t = topics.get(topic) ?? { topic, pending: 0, retrying: 0, oldestPendingSeconds: null, deadLettered: 0 };
    topics.set(topic, { ...t, deadLettered: Number(r.dead) });
  }
  const list = [...topics.values()].sort((a, b) => a.topic.localeCompare(b.topic));
  const ages = list.map((t) => t.oldestPendingSeconds).filter((a): a is number => a !== null);
  return {
    pending: list.reduce((s, t) => s + t.pending, 0),
    oldestPendingSeconds: ages.length ? Math.max(...ages) : null,
    deadLettered: list.reduce((s, t) => s + t.deadLettered, 0),
    relays: Number(relays),
    topics: list,
  };
}
