/**
 * What a `SelfConsumer` tells its observer (metrics, readiness); every hook is optional, called
 * synchronously, and must not throw.
 */
export interface SelfConsumerObserver {
  /** The inbox tables exist and the subscription is connected. */
  prepared?(): void;
  /** A batch was applied and committed (its acknowledgement attempted). */
  batchApplied?(events: number): void;
  /** The subscription (`broker`) or a database transaction (`database`) failed and will be retried. */
  failed?(where: 'broker' | 'database', err: unknown): void;
}

/** Per topic: what the inbox did with the events of that topic. */
export interface InboxTopicStats {
  /** Events whose handler ran and committed. */
  applied: number;
  /** Events skipped because the inbox already had their id. */
  skipped: number;
  /** Events recorded in the consumer dead-letter table. */
  deadLettered: number;
}

/** Adds one to `field` of `topic`'s counts in `byTopic`, creating them at zero. */
export function countForTopic(byTopic: Map<string, InboxTopicStats>, topic: string, field: keyof InboxTopicStats): void {
  let t = byTopic.get(topic);
  if (!t) byTopic.set(topic, (t = { applied: 0, skipped: 0, deadLettered: 0 }));
  t[field]++;
}
