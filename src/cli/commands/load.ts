import { ContractRegistry } from '../../contracts/registry.js';
import { subscriberFor } from '../../brokers/broker-url.js';
import { consoleLogger } from '../../observe/logger.js';
import { parseMetricsAddress } from '../../observe/metrics-address.js';
import { registerLoaderMetrics } from '../../observe/loader-metrics.js';
import { Loader, type LoaderObserver } from '../../warehouse/loader.js';
import type { TablePlan } from '../../warehouse/table-plan.js';
import { sinkFor } from '../../warehouse/warehouse-url.js';
import { loadConfig, required, type HeraldConfig } from '../config.js';
import { consumerObservability } from '../consumer-observability.js';
import { positiveMs } from '../positive-ms.js';
import { onStopSignals } from '../stop-signals.js';

/** Flags of `herald load`. */
export interface LoadFlags extends Partial<HeraldConfig> {
  config?: string;
  /** `HOST:PORT` or `PORT` of the metrics and health server; off when absent. */
  metrics?: string;
  /** With `metrics`: ms between two reads of the consumer lag (Kafka). */
  metricsLagInterval?: number;
  json?: boolean;
  debug?: boolean;
}

/** Where `herald load` writes when no warehouse is given: an embedded DuckDB file. */
export const defaultWarehouse = 'duckdb:herald-warehouse.duckdb';

/**
 * `herald load`: subscribes to the contracts' topics (or `--topics`) and loads every event into
 * its contract's typed warehouse table until SIGTERM or SIGINT. On the first signal the batch in
 * hand is committed and acknowledged, then it exits 0; a second signal exits at once (the broker
 * redelivers whatever was not acknowledged, and the warehouse skips what it already has). With
 * `--metrics` it serves `/metrics` (see `registerLoaderMetrics`), `/healthz` and `/readyz` (see
 * `consumerHealth`) from before it connects until it stops.
 */
export async function loadCommand(flags: LoadFlags): Promise<void> {
  const config = await loadConfig(flags);
  const log = consoleLogger({ json: flags.json === true, debug: flags.debug === true });
  // Parsed before anything connects, so a bad --metrics fails fast with CONFIG_INVALID.
  const metricsAt = flags.metrics === undefined ? undefined : parseMetricsAddress(flags.metrics);
  const contracts = await ContractRegistry.fromDir(required(config, 'contracts', '--contracts', 'HERALD_CONTRACTS'));
  const topics = config.load?.topics ?? [...new Set(contracts.list().map((c) => c.topic))];
  const group = config.load?.group ?? 'herald-loader';
  const brokerUrl = required(config, 'broker', '--broker', 'HERALD_BROKER');
  const observe =
    metricsAt &&
    consumerObservability({
      address: metricsAt,
      logger: log,
      ...(flags.metricsLagInterval === undefined ? {} : { lagIntervalMs: positiveMs(flags.metricsLagInterval, '--metrics-lag-interval') }),
      storage: 'warehouse',
    });
  await observe?.start();
  try {
    const subscriber = await subscriberFor(brokerUrl, {
      topics,
      group,
      createSubscriptions: config.load?.createSubscriptions === true,
      ...(config.load?.maxBatch === undefined ? {} : { maxBatch: Number(config.load.maxBatch) }),
      ...(config.load?.maxWaitMs === undefined ? {} : { maxWaitMs: Number(config.load.maxWaitMs) }),
    });
    observe?.watchLag(subscriber, group, topics);
    const sink = await sinkFor(config.warehouse ?? defaultWarehouse).catch(async (err: unknown) => {
      await subscriber.close();
      throw err;
    });
    let tables: readonly TablePlan[] = [];
    const built: { loader?: Loader } = {};
    const metrics =
      observe &&
      registerLoaderMetrics(observe.registry, {
        loader: () => built.loader,
        warehouse: sink.name,
        tables: () => tables.map((t) => t.table),
        topics,
      });
    const observer: LoaderObserver | undefined = observe && {
      prepared: () => observe.health.prepared(),
      batchLoaded: (_events, seconds) => {
        observe.health.batchDone();
        metrics?.batchLoaded(seconds);
      },
      failed: (where, err) => observe.health.failed(where === 'broker' ? 'broker' : 'storage', err),
    };
    const loader = (built.loader = new Loader({
      subscriber,
      sink,
      contracts,
      logger: log,
      ...(config.piiKey ? { piiKey: config.piiKey } : {}),
      ...(observer ? { observer } : {}),
    }));
    const progress = setInterval(() => log.info('loading', { ...loader.stats }), 10_000);
    progress.unref();
    const removeSignals = onStopSignals(
      log,
      () => loader.stop(),
      'finishing the batch in hand',
      'the broker redelivers what was not acknowledged',
    );
    try {
      tables = await loader.prepare();
      log.info('loader started', {
        subscriber: subscriber.name,
        group,
        topics: topics.length,
        warehouse: sink.name,
        tables: tables.map((t) => t.table),
      });
      await loader.run();
      log.info('loader stopped', { ...loader.stats });
    } finally {
      clearInterval(progress);
      removeSignals();
      await subscriber.close();
      await sink.close();
    }
  } finally {
    await observe?.stop();
  }
}
