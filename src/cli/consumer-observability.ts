import type { Registry } from 'prom-client';
import { consumerHealth, type ConsumerHealth } from '../observe/consumer-health.js';
import type { Logger } from '../observe/logger.js';
import { createMetricsRegistry } from '../observe/metrics.js';
import type { MetricsAddress } from '../observe/metrics-address.js';
import { startMetricsServer, type MetricsServer } from '../observe/metrics-server.js';
import { registerLagMetrics, type LagMetrics } from '../observe/lag-metrics.js';
import type { Subscriber } from '../brokers/subscriber.js';

/** What `herald load --metrics` and `herald consume --metrics` need. */
export interface ConsumerObservabilityOptions {
  readonly address: MetricsAddress;
  readonly logger: Logger;
  /** The name of the storage readiness check: the loader's `warehouse`, the consumer's `database`. */
  readonly storage: 'warehouse' | 'database';
  /** Time between two consumer lag reads, in ms (default 15000). */
  readonly lagIntervalMs?: number;
}

/** One consuming process's metrics and health: the registry to register metrics in, the health hooks, start and stop. */
export interface ConsumerObservability {
  /** A private registry holding the process metrics; the command adds its own. */
  readonly registry: Registry;
  readonly health: ConsumerHealth;
  /** Adds `herald_consumer_lag_messages` for this subscriber (Kafka), read on a timer from {@link start}. */
  watchLag(subscriber: Subscriber, group: string, topics: readonly string[]): void;
  /** Starts the HTTP server (`/metrics`, `/healthz`, `/readyz`); resolves once it listens. */
  start(): Promise<MetricsServer>;
  /** Closes the server; idempotent. */
  stop(): Promise<void>;
}

/**
 * The same server, registry and readiness as `herald relay --metrics`, for the loader and the
 * consumer: nothing listens until {@link ConsumerObservability.start}, which the commands call
 * before connecting, so `/healthz` answers and `/readyz` says what is awaited while they start.
 */
export function consumerObservability(options: ConsumerObservabilityOptions): ConsumerObservability {
  const registry = createMetricsRegistry();
  const health = consumerHealth(options.storage);
  let server: MetricsServer | undefined;
  let lag: LagMetrics | undefined;
  let started = false;
  return {
    registry,
    health,
    watchLag(subscriber, group, topics) {
      lag = registerLagMetrics(registry, {
        subscriber,
        group,
        topics,
        logger: options.logger,
        ...(options.lagIntervalMs === undefined ? {} : { intervalMs: options.lagIntervalMs }),
      });
      if (started) lag.start();
    },
    async start() {
      server = await startMetricsServer(options.address, registry, health.readiness);
      started = true;
      lag?.start();
      options.logger.info('metrics and health endpoints listening', {
        metrics: `http://${server.address.host}:${server.address.port}/metrics`,
      });
      return server;
    },
    async stop() {
      lag?.stop();
      const s = server;
      server = undefined;
      await s?.close();
    },
  };
}
