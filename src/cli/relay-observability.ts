import type { Publisher } from '../brokers/publisher.js';
import type { Logger } from '../observe/logger.js';
import { createMetricsRegistry } from '../observe/metrics.js';
import type { MetricsAddress } from '../observe/metrics-address.js';
import { startMetricsServer, type MetricsServer } from '../observe/metrics-server.js';
import { registerOutboxMetrics } from '../observe/outbox-metrics.js';
import { OutboxStatusMonitor, type MonitoredStatus } from '../observe/outbox-status-monitor.js';
import { combineObservers, relayReadiness } from '../observe/relay-health.js';
import { registerRelayMetrics } from '../observe/relay-metrics.js';
import type { RelayObserver, RelayStats } from '../relay/relay.js';
import type { RelaySource } from '../relay/source.js';
import { scrubSecrets } from '../observe/scrub.js';

/** What `herald relay --metrics` needs to watch a relay. */
export interface RelayObservabilityOptions {
  readonly address: MetricsAddress;
  readonly source: RelaySource;
  readonly publisher: Publisher;
  readonly store: string;
  /** Reads the outbox status (backlog, ages, slot) for the gauges, on the monitor's timer. */
  readonly readStatus: () => Promise<MonitoredStatus>;
  /** The relay's counters, once it exists. */
  readonly stats: () => RelayStats | undefined;
  readonly logger: Logger;
  /** Time between two outbox status reads, in ms (default 15000). */
  readonly statusIntervalMs?: number;
}

/** The wiring of one relay's metrics and health: the observer to give the relay, start and stop. */
export interface RelayObservability {
  readonly observer: RelayObserver;
  /** Starts the status monitor, the broker probe and the HTTP server; resolves once it listens. */
  start(): Promise<MetricsServer>;
  stop(): Promise<void>;
}

/**
 * Builds a relay's `/metrics`, `/healthz` and `/readyz`: a private registry with process
 * metrics, the relay counters and histogram, the outbox gauges fed by an
 * {@link OutboxStatusMonitor}, and the readiness checks fed by the relay's own answers. Nothing
 * is started until {@link RelayObservability.start}.
 */
export function relayObservability(options: RelayObservabilityOptions): RelayObservability {
  const registry = createMetricsRegistry();
  const health = relayReadiness({ source: options.source, publisher: options.publisher });
  const metricsObserver = registerRelayMetrics(registry, { stats: options.stats, source: options.source, store: options.store });
  const monitor = new OutboxStatusMonitor({
    read: options.readStatus,
    logger: options.logger,
    ...(options.statusIntervalMs === undefined ? {} : { intervalMs: options.statusIntervalMs }),
    onRead: (err) => (err === undefined ? health.database.ok() : health.database.failed(scrubSecrets(err))),
  });
  registerOutboxMetrics(registry, monitor);
  let server: MetricsServer | undefined;
  return {
    observer: combineObservers(metricsObserver, health.observer),
    async start() {
      server = await startMetricsServer(options.address, registry, health.readiness);
      health.start();
      void monitor.start();
      options.logger.info('metrics and health endpoints listening', {
        metrics: `http://${server.address.host}:${server.address.port}/metrics`,
      });
      return server;
    },
    async stop() {
      health.stop();
      await monitor.stop();
      await server?.close();
    },
  };
}
