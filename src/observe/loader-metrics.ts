import { Histogram, type Registry } from 'prom-client';
import type { Loader } from '../warehouse/loader.js';
import { followingCounter } from './following-counter.js';
import { publishDurationBuckets } from './metrics.js';

/** What {@link registerLoaderMetrics} reads. */
export interface LoaderMetricsOptions {
  /** The loader whose counters to follow, once it exists (read at scrape time). */
  readonly loader: () => Pick<Loader, 'stats' | 'tables' | 'deadLetteredByTopic'> | undefined;
  /** The sink's name (`duckdb`, `postgresql`): the `warehouse` label of every loader metric. */
  readonly warehouse: string;
  /** Tables shown at 0 before anything is loaded into them (read at scrape time: known once the loader prepared). */
  readonly tables?: () => readonly string[];
  /** Topics shown at 0 from the first scrape. */
  readonly topics?: readonly string[];
}

/**
 * Registers `herald load`'s metrics, all labelled `{warehouse}`:
 * `herald_load_rows_total{table}` (rows new in their table), `herald_load_duplicates_total{table}`
 * (rows skipped because their event id was already loaded: redeliveries, relay replays),
 * `herald_load_dead_letters_total{topic}` (events written to the load dead-letter table),
 * `herald_load_events_received_total`, `herald_load_batches_total`, `herald_load_retries_total`
 * (failed subscriptions or writes, retried), and the histogram
 * `herald_load_write_duration_seconds` (one warehouse transaction). Counters follow the loader's
 * own totals at scrape time; labels are table and topic names only, never ids or keys. Returns
 * the hook to call with each batch's write time.
 */
export function registerLoaderMetrics(registry: Registry, options: LoaderMetricsOptions): { batchLoaded(seconds: number): void } {
  const warehouse = options.warehouse;
  const byTable = (field: 'inserted' | 'duplicates') => () => {
    const counts = options.loader()?.tables;
    const names = new Set([...(options.tables?.() ?? []), ...(counts?.keys() ?? [])]);
    return [...names].map((table) => [{ warehouse, table }, counts?.get(table)?.[field] ?? 0] as const);
  };
  followingCounter(registry, 'herald_load_rows_total', 'Rows new in their warehouse table.', ['warehouse', 'table'], byTable('inserted'));
  followingCounter(
    registry,
    'herald_load_duplicates_total',
    'Rows skipped because their event id was already loaded (redeliveries, relay replays).',
    ['warehouse', 'table'],
    byTable('duplicates'),
  );
  followingCounter(
    registry,
    'herald_load_dead_letters_total',
    'Events written to the load dead-letter table.',
    ['warehouse', 'topic'],
    () => {
      const dead = options.loader()?.deadLetteredByTopic;
      const topics = new Set([...(options.topics ?? []), ...(dead?.keys() ?? [])]);
      return [...topics].map((topic) => [{ warehouse, topic }, dead?.get(topic) ?? 0] as const);
    },
  );
  const totals = [
    ['herald_load_events_received_total', 'received', 'Messages received from the broker, redeliveries included.'],
    ['herald_load_batches_total', 'batches', 'Batches committed to the warehouse.'],
    ['herald_load_retries_total', 'retries', 'Subscriptions or warehouse writes that failed and were retried.'],
  ] as const;
  for (const [name, field, help] of totals)
    followingCounter(registry, name, help, ['warehouse'], () => [[{ warehouse }, options.loader()?.stats[field] ?? 0]]);
  const duration = new Histogram({
    name: 'herald_load_write_duration_seconds',
    help: 'Time one batch took to commit to the warehouse, retries included.',
    labelNames: ['warehouse'],
    buckets: [...publishDurationBuckets],
    registers: [registry],
  });
  duration.zero({ warehouse });
  const child = duration.labels({ warehouse });
  return { batchLoaded: (seconds) => child.observe(seconds) };
}
