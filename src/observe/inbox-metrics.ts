import type { Registry } from 'prom-client';
import type { SelfConsumer } from '../patterns/listen.js';
import { followingCounter } from './following-counter.js';

/** What {@link registerInboxMetrics} reads. */
export interface InboxMetricsOptions {
  /** The runtime whose counters to follow, once it exists (read at scrape time). */
  readonly consumer: () => Pick<SelfConsumer, 'stats' | 'byTopic'> | undefined;
  /** The inbox's consumer name (one per process): the `consumer` label. */
  readonly name: string;
  /** The store kind (`postgres`, `mysql`): the `store` label. */
  readonly store: string;
  /** Topics shown at 0 from the first scrape. */
  readonly topics: readonly string[];
}

/**
 * Registers `herald consume`'s metrics, labelled `{store, consumer}` and, per topic,
 * `{topic}`: `herald_inbox_applied_total` (events whose handler ran and committed),
 * `herald_inbox_skipped_total` (events the inbox already had: redeliveries, replays),
 * `herald_inbox_dead_lettered_total` (events recorded in the consumer dead-letter table), and
 * `herald_consume_events_received_total`, `herald_consume_batches_total`,
 * `herald_consume_retries_total`. Counters follow the runtime's totals at scrape time, so
 * applying an event does no metric work; labels are names only, never event ids or keys.
 */
export function registerInboxMetrics(registry: Registry, options: InboxMetricsOptions): void {
  const base = { store: options.store, consumer: options.name };
  const perTopic = (field: 'applied' | 'skipped' | 'deadLettered') => () => {
    const byTopic = options.consumer()?.byTopic;
    const topics = new Set([...options.topics, ...(byTopic?.keys() ?? [])]);
    return [...topics].map((topic) => [{ ...base, topic }, byTopic?.get(topic)?.[field] ?? 0] as const);
  };
  const labels = ['store', 'consumer', 'topic'] as const;
  followingCounter(
    registry,
    'herald_inbox_applied_total',
    'Events whose handler ran and committed with their inbox row.',
    labels,
    perTopic('applied'),
  );
  followingCounter(
    registry,
    'herald_inbox_skipped_total',
    'Events skipped because the inbox already had their id (redeliveries, replays).',
    labels,
    perTopic('skipped'),
  );
  followingCounter(
    registry,
    'herald_inbox_dead_lettered_total',
    'Events recorded in the consumer dead-letter table.',
    labels,
    perTopic('deadLettered'),
  );
  const totals = [
    ['herald_consume_events_received_total', 'received', 'Messages received from the broker, redeliveries included.'],
    ['herald_consume_batches_total', 'batches', 'Batches applied, committed and acknowledged.'],
    ['herald_consume_retries_total', 'retries', 'Subscriptions or transactions that failed with a retryable error and were tried again.'],
  ] as const;
  for (const [name, field, help] of totals) {
    followingCounter(registry, name, help, ['store', 'consumer'], () => [[base, options.consumer()?.stats[field] ?? 0]]);
  }
}
