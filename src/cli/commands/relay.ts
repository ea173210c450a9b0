import { ContractRegistry } from '../../contracts/registry.js';
import { KafkaPublisher } from '../../brokers/kafka/publisher.js';
import { withTopicMap } from '../../brokers/topic-map.js';
import { publisherFor } from '../../brokers/broker-url.js';
import { consoleLogger } from '../../observe/logger.js';
import { LogicalSource } from '../../postgres/logical-source.js';
import { Relay, type RelayOptions } from '../../relay/relay.js';
import { storeFor, storeKindOf } from '../../store/store-url.js';
import { logicalNeedsPostgres } from './migrate.js';
import { loadConfig, required, type HeraldConfig } from '../config.js';
import { onStopSignals } from '../stop-signals.js';
import { startWithBackoff } from '../start-with-backoff.js';
import { relayObservability } from '../relay-observability.js';
import { positiveMs } from '../positive-ms.js';
import { parseMetricsAddress } from '../../observe/metrics-address.js';
import type { MonitoredStatus } from '../../observe/outbox-status-monitor.js';
import type { OutboxStore } from '../../store/port.js';

/** Flags of `herald relay`. */
export interface RelayFlags extends Partial<HeraldConfig> {
  config?: string;
  /** `HOST:PORT` or `PORT` of the metrics and health server; off when absent. */
  metrics?: string;
  /** With `metrics`: ms between two outbox status reads for the backlog gauges. */
  metricsStatusInterval?: number;
  /** Exit 1 at start-up when the broker or the database is unreachable, instead of waiting. */
  failFast?: boolean;
  /** Kafka: publish each batch in a transaction so the broker fences a stalled relay (default true). */
  kafkaTransactions?: boolean;
  json?: boolean;
  debug?: boolean;
}

/**
 * `herald relay`: delivers the outbox to the broker (`--broker URL`, or `--kafka`) until SIGTERM or SIGINT, reading it by polling or,
 * with `source: logical`, from the replication slot. On the first signal it finishes the batch in
 * flight, records it, releases its buckets (or confirms its slot position) and exits 0; a second
 * signal exits at once (nothing is lost: undelivered events stay in the outbox or the slot).
 * Started while the broker or the database is unreachable, it waits for them with backoff (as it
 * does mid-run) unless `failFast`.
 */
export async function relayCommand(flags: RelayFlags): Promise<void> {
  const config = await loadConfig(flags);
  const log = consoleLogger({ json: flags.json === true, debug: flags.debug === true });
  // Parsed before anything connects, so a bad --metrics fails fast with CONFIG_INVALID.
  const metricsAt = flags.metrics === undefined ? undefined : parseMetricsAddress(flags.metrics);
  const database = required(config, 'database', '--database', 'HERALD_DATABASE_URL');
  const createTopics = config.createTopics === true;
  const transactions = flags.kafkaTransactions !== false;
  const broker =
    config.broker !== undefined
      ? await publisherFor(config.broker, {
          createTopics,
          kafkaTransactions: transactions,
          ...(config.webhookSecret ? { hmacSecret: config.webhookSecret } : {}),
        })
      : new KafkaPublisher({
          brokers: config.kafka ?? required(config, 'broker', '--broker (or --kafka)', 'HERALD_BROKER'),
          createTopics,
          transactions,
        });
  const publisher = withTopicMap(broker, config.topics ?? {});
  const topics = config.contracts ? (await ContractRegistry.fromDir(config.contracts)).list().map((c) => c.topic) : [];
  const schema = config.schema === undefined ? {} : { schema: config.schema };
  const kind = storeKindOf(database);
  if (config.source === 'logical' && kind !== 'postgres') throw logicalNeedsPostgres(kind);
  const source =
    config.source === 'logical'
      ? new LogicalSource({
          database,
          ...schema,
          ...(config.slot === undefined ? {} : { slot: config.slot }),
          ...(config.publication === undefined ? {} : { publication: config.publication }),
          ...(config.relay?.heartbeatMs ? { heartbeatMs: Number(config.relay.heartbeatMs) } : {}),
          ...(config.relay?.maxBufferedEvents ? { maxBufferedEvents: Number(config.relay.maxBufferedEvents) } : {}),
          logger: log,
        })
      : (await storeFor(database, schema)).pollingSource({
          logger: log,
          ...(config.relay?.leaseMs ? { leaseMs: Number(config.relay.leaseMs) } : {}),
          ...(config.relay?.idlePollMs !== undefined ? { idlePollMs: positiveMs(Number(config.relay.idlePollMs), '--idle-poll') } : {}),
        });
  // The relay is built after its observer, which reads its counters through this box.
  const built: { relay?: Relay } = {};
  const observe =
    metricsAt &&
    relayObservability({
      address: metricsAt,
      source,
      publisher,
      store: kind,
      readStatus: statusReader(database, config),
      stats: () => built.relay?.stats,
      logger: log,
      ...(flags.metricsStatusInterval === undefined
        ? {}
        : { statusIntervalMs: positiveMs(flags.metricsStatusInterval, '--metrics-status-interval') }),
    });
  const relay = (built.relay = new Relay({
    source,
    publisher,
    logger: log,
    ...numeric(config.relay ?? {}),
    ...(observe ? { observer: observe.observer } : {}),
  }));
  // Signals are handled from the start: a relay still waiting for its broker or database stops
  // waiting and exits 0.
  const starting = new AbortController();
  const removeSignals = onStopSignals(
    log,
    () => {
      starting.abort();
      void relay.stop();
    },
    'draining the batch in flight',
    'undelivered events stay in the outbox',
  );
  const wait = { log, failFast: flags.failFast === true, signal: starting.signal };
  try {
    // Listening first: while the relay connects, /healthz answers and /readyz says what it waits for.
    await observe?.start();
    const started =
      (await startWithBackoff(`broker ${publisher.name}`, () => publisher.prepare(topics), wait)) &&
      (await startWithBackoff(`${kind} outbox`, () => source.start(), wait));
    if (!started) return;
    log.info('relay started', {
      source: source.name,
      publisher: publisher.name,
      ...(source instanceof LogicalSource ? { slot: source.slot } : { instance: source.instanceId }),
      topics: topics.length,
    });
    await relay.run();
    log.info('relay stopped', { ...relay.stats, ...(source instanceof LogicalSource ? source.stats : {}) });
  } finally {
    removeSignals();
    await observe?.stop();
    await source.close();
    await publisher.close();
  }
}

/**
 * How the metrics read the outbox status. PostgreSQL: with the relay's slot name, so the slot
 * gauges follow a slot given with --slot; other stores: their `status()`.
 */
function statusReader(database: string, config: HeraldConfig): () => Promise<MonitoredStatus> {
  const schema = config.schema === undefined ? {} : { schema: config.schema };
  if (storeKindOf(database) === 'postgres') {
    const slot = config.slot === undefined ? {} : { slot: config.slot };
    return async () => (await import('../../postgres/migrate.js')).postgresOutboxStatus(database, { ...schema, ...slot });
  }
  let store: Promise<OutboxStore> | undefined;
  return async () => (await (store ??= storeFor(database, schema))).status();
}

function numeric(relay: NonNullable<HeraldConfig['relay']>): Partial<RelayOptions> {
  const out: Record<string, number> = {};
  for (const key of ['batchSize', 'pollIntervalMs', 'maxAttempts', 'retryBaseMs', 'retryMaxMs'] as const) {
    if (relay[key] !== undefined) out[key] = Number(relay[key]);
  }
  return out;
}
