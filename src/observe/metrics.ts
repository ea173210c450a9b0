import { collectDefaultMetrics, Registry } from 'prom-client';

/** The prefix of every metric Herald defines (the process metrics keep prom-client's names). */
export const metricPrefix = 'herald_';

/**
 * A fresh Prometheus registry holding prom-client's default process metrics (`process_cpu_seconds_total`,
 * `process_resident_memory_bytes`, `nodejs_eventloop_lag_seconds`, …). One per process command:
 * a private registry, not prom-client's global one, so a library user's own metrics never mix
 * with Herald's and tests can make as many as they like.
 */
export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // prom-client also exports these three gauges under a `_total` name, which Prometheus reserves
  // for counters (`promtool check metrics` refuses them); the same values stay under the names
  // without the suffix (`nodejs_active_handles`, …).
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
    registry.removeSingleMetric(name);
  }
  return registry;
}

/**
 * Buckets of the publish batch duration histogram, in seconds: from a local broker's
 * millisecond acks up to the publisher's ack timeouts (tens of seconds).
 */
export const publishDurationBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] as const;
