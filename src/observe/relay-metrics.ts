import { Gauge, Histogram, type Registry } from 'prom-client';
import { followingCounter } from './following-counter.js';
import type { RelayObserver, RelayStats } from '../relay/relay.js';
import type { RelaySource } from '../relay/source.js';
import { publishDurationBuckets } from './metrics.js';

/** What {@link registerRelayMetrics} reads. */
export interface RelayMetricsOptions {
  /** The relay's counters (`() => relay.stats`), read at scrape time; a getter because the relay is built after its observer. */
  readonly stats: () => Readonly<RelayStats> | undefined;
  readonly source: RelaySource;
  /** The store kind (`postgres`, `mysql`), a label of every relay metric. */
  readonly store: string;
}

/** The relay counters: metric name → the {@link RelayStats} field it follows, and its help. */
export const relayCounters = {
  herald_relay_delivered_total: ['delivered', 'Events the broker acknowledged and the source recorded as delivered.'],
  herald_relay_batches_total: ['batches', 'Batches delivered whole.'],
  herald_relay_refused_total: ['refused', 'Times the broker refused an event (each is then retried or dead-lettered).'],
  herald_relay_retried_total: ['retried', 'Refused events scheduled for another attempt.'],
  herald_relay_dead_lettered_total: ['deadLettered', 'Events moved to the dead-letter table.'],
  herald_relay_broker_outages_total: ['brokerOutages', 'Pauses because the broker could not be reached.'],
} as const satisfies Record<string, readonly [keyof RelayStats, string]>;

/**
 * Registers the relay's metrics, labelled `{store, source}`: the counters of {@link relayCounters},
 * `herald_relay_publish_batch_duration_seconds` (histogram, `outcome` ok|failed),
 * `herald_relay_leased_buckets` (polling sources) and `herald_relay_slot_streaming` (logical).
 *
 * Cost: the counters are read from `stats` when Prometheus scrapes (the relay only increments
 * plain numbers, as it always did); the histogram is the only per-batch work, one `observe` on a
 * pre-bound child. Returns the observer to pass to the `Relay`.
 */
export function registerRelayMetrics(registry: Registry, options: RelayMetricsOptions): RelayObserver {
  const registers = [registry];
  const labels = { store: options.store, source: options.source.name };
  const labelNames = ['store', 'source'] as const;
  for (const [name, [field, help]] of Object.entries(relayCounters)) {
    followingCounter(registry, name, help, labelNames, () => [[labels, options.stats()?.[field] ?? 0]]);
  }
  const duration = new Histogram({
    name: 'herald_relay_publish_batch_duration_seconds',
    help: 'Time the publisher took to settle one batch (broker acknowledgement, or rejection).',
    labelNames: [...labelNames, 'outcome'],
    buckets: [...publishDurationBuckets],
    registers,
  });
  // Zeroed, so the histogram is there (empty) from the first scrape, before any batch.
  duration.zero({ ...labels, outcome: 'ok' });
  const ok = duration.labels({ ...labels, outcome: 'ok' });
  const failed = duration.labels({ ...labels, outcome: 'failed' });
  const ownership = options.source.ownership?.bind(options.source);
  if (ownership && ownership().leasedBuckets !== undefined) {
    new Gauge({
      name: 'herald_relay_leased_buckets',
      help: 'Ordering buckets this relay leases now (0: another relay holds them all, or the database is unreachable).',
      labelNames,
      registers,
      collect() {
        this.set(labels, ownership().leasedBuckets ?? 0);
      },
    });
  }
  if (ownership && ownership().slot !== undefined) {
    new Gauge({
      name: 'herald_relay_slot_streaming',
      help: '1 while this relay streams its replication slot.',
      labelNames: [...labelNames, 'slot'],
      registers,
      collect() {
        const o = ownership();
        this.set({ ...labels, slot: o.slot ?? '' }, o.held ? 1 : 0);
      },
    });
  }
  return {
    batchPublished: (_events, seconds, success) => (success ? ok : failed).observe(seconds),
  };
}
