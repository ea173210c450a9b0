import { ContractRegistry } from '../../contracts/registry.js';
import { KafkaPublisher } from '../../brokers/kafka.js';
import { withTopicMap } from '../../brokers/topic-map.js';
import type { Publisher } from '../../brokers/publisher.js';
import { consoleLogger, type Logger } from '../../observe/logger.js';
import { PollingSource } from '../../relay/polling-source.js';
import { Relay, type RelayOptions } from '../../relay/relay.js';
import { loadConfig, required, type HeraldConfig } from '../config.js';

/** Flags of `herald relay`. */
export interface RelayFlags extends Partial<HeraldConfig> {
  config?: string;
  json?: boolean;
  debug?: boolean;
}

/**
 * `herald relay`: delivers the outbox to Kafka until SIGTERM or SIGINT. On the first signal it
 * finishes the batch in flight, records it, releases its buckets and exits 0; a second signal
 * exits at once (nothing is lost: undelivered rows stay in the outbox).
 */
export async function relayCommand(flags: RelayFlags): Promise<void> {
  const config = await loadConfig(flags);
  const log = consoleLogger({ json: flags.json === true, debug: flags.debug === true });
  const database = required(config, 'database', '--database', 'HERALD_DATABASE_URL');
  const kafka = new KafkaPublisher({
    brokers: required(config, 'kafka', '--kafka', 'HERALD_KAFKA'),
    createTopics: config.createTopics === true,
  });
  const publisher = withTopicMap(kafka, config.topics ?? {});
  const topics = config.contracts ? (await ContractRegistry.fromDir(config.contracts)).list().map((c) => c.topic) : [];
  await runRelay({ config, database, publisher, topics, log });
}

/** What {@link runRelay} needs. */
export interface RunRelayInput {
  config: HeraldConfig;
  database: string;
  publisher: Publisher;
  topics: readonly string[];
  log: Logger;
  /** Stop after this signal instead of process signals (used by the demo). */
  signal?: AbortSignal;
}

/** Starts a polling relay with the given publisher and runs it until a signal; returns its stats. */
export async function runRelay({ config, database, publisher, topics, log, signal }: RunRelayInput): Promise<Relay['stats']> {
  const schema = config.schema === undefined ? {} : { schema: config.schema };
  const source = new PollingSource({
    database,
    ...schema,
    logger: log,
    ...(config.relay?.leaseMs ? { leaseMs: Number(config.relay.leaseMs) } : {}),
  });
  const options: RelayOptions = { source, publisher, logger: log, ...numeric(config.relay ?? {}) };
  const relay = new Relay(options);
  try {
    await publisher.prepare(topics);
    await source.start();
    log.info('relay started', { source: source.name, publisher: publisher.name, instance: source.instanceId, topics: topics.length });
    let signals = 0;
    const onSignal = (name: string): void => {
      signals++;
      if (signals > 1) {
        log.warn(`second ${name}: exiting now; undelivered events stay in the outbox`);
        process.exit(130);
      }
      log.info(`${name}: draining the batch in flight`);
      void relay.stop();
    };
    const handlers = { SIGTERM: () => onSignal('SIGTERM'), SIGINT: () => onSignal('SIGINT') };
    if (!signal) for (const [name, fn] of Object.entries(handlers)) process.on(name, fn);
    signal?.addEventListener('abort', () => void relay.stop(), { once: true });
    try {
      await relay.run();
    } finally {
      for (const [name, fn] of Object.entries(handlers)) process.off(name, fn);
    }
    log.info('relay stopped', { ...relay.stats });
    return relay.stats;
  } finally {
    await source.close();
    await publisher.close();
  }
}

function numeric(relay: NonNullable<HeraldConfig['relay']>): Partial<RelayOptions> {
  const out: Record<string, number> = {};
  for (const key of ['batchSize', 'pollIntervalMs', 'maxAttempts', 'retryBaseMs', 'retryMaxMs'] as const) {
    if (relay[key] !== undefined) out[key] = Number(relay[key]);
  }
  return out;
}
