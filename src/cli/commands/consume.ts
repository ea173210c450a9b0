import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { subscriberFor } from '../../brokers/broker-url.js';
import { ContractRegistry } from '../../contracts/registry.js';
import { HeraldError, ErrorCodes } from '../../errors.js';
import { consoleLogger } from '../../observe/logger.js';
import { inboxDefaults, migrateInbox } from '../../postgres/inbox.js';
import { migrateMysqlInbox } from '../../mysql/inbox.js';
import { storeKindOf } from '../../store/store-url.js';
import { SelfConsumer, type EventHandlers } from '../../patterns/listen.js';
import { loadConfig, required, type HeraldConfig } from '../config.js';
import { onStopSignals } from '../stop-signals.js';
import { consumerObservability } from '../consumer-observability.js';
import { positiveMs } from '../positive-ms.js';
import { parseMetricsAddress } from '../../observe/metrics-address.js';
import { registerInboxMetrics } from '../../observe/inbox-metrics.js';
import type { SelfConsumerObserver } from '../../patterns/consumer-observer.js';

/** Flags of `herald consume`; defaults in {@link consumeDefaults}. */
export interface ConsumeFlags extends Pick<HeraldConfig, 'database' | 'broker' | 'kafka' | 'contracts'> {
  config?: string;
  /** The handler module: ESM, exporting `handlers` or a default `{ [eventType]: (tx, event) => Promise<void> }`. */
  handlers?: string;
  /** Consumer group / durable subscription name. */
  group?: string;
  /** The name the inbox records ids under; default the group. */
  consumer?: string;
  /** Topics to read; default the topics of the contracts that have a handler. */
  topics?: string[];
  createSubscriptions?: boolean;
  /** Schema of the inbox and the consumer dead-letter table. */
  inboxSchema?: string;
  maxBatch?: number;
  maxWaitMs?: number;
  /** `HOST:PORT` or `PORT` of the metrics and health server; off when absent. */
  metrics?: string;
  /** With `metrics`: ms between two reads of the consumer lag (Kafka). */
  metricsLagInterval?: number;
  json?: boolean;
  debug?: boolean;
}

/** The defaults of {@link ConsumeFlags}, in one table. */
export const consumeDefaults = { group: 'herald-consumer', inboxSchema: inboxDefaults.schema } as const;

/** What {@link consumeCommand} can be given besides flags, for running it inside another program or a test. */
export interface ConsumeControl {
  /** Aborting it stops the consumer as SIGTERM does. */
  readonly signal?: AbortSignal;
}

/**
 * `herald consume`: the listen-to-yourself runtime. Loads the handler module, creates the inbox
 * tables (idempotent), then applies every event of the topics to the database through its
 * handler, each exactly once, until SIGTERM or SIGINT. On the first signal the batch in hand is
 * committed and acknowledged, then it exits 0; a second signal exits at once (the broker
 * redelivers whatever was not acknowledged, and the inbox skips what already committed). With
 * `--metrics` it serves `/metrics` (see `registerInboxMetrics`), `/healthz` and `/readyz` (see
 * `consumerHealth`) from before it connects until it stops.
 */
export async function consumeCommand(flags: ConsumeFlags, control: ConsumeControl = {}): Promise<void> {
  // Only the shared settings come from the config file and the environment; the rest are flags.
  const config = await loadConfig({
    ...(flags.config === undefined ? {} : { config: flags.config }),
    ...(flags.database === undefined ? {} : { database: flags.database }),
    ...(flags.broker === undefined ? {} : { broker: flags.broker }),
    ...(flags.kafka === undefined ? {} : { kafka: flags.kafka }),
    ...(flags.contracts === undefined ? {} : { contracts: flags.contracts }),
  });
  const log = consoleLogger({ json: flags.json === true, debug: flags.debug === true });
  // Parsed before anything connects, so a bad --metrics fails fast with CONFIG_INVALID.
  const metricsAt = flags.metrics === undefined ? undefined : parseMetricsAddress(flags.metrics);
  const database = required(config, 'database', '--database', 'HERALD_DATABASE_URL');
  const broker =
    config.broker ??
    (config.kafka === undefined
      ? required(config, 'broker', '--broker (or --kafka)', 'HERALD_BROKER')
      : `kafka://${config.kafka.replace(/^kafka:\/\//, '')}`);
  const contracts = await ContractRegistry.fromDir(required(config, 'contracts', '--contracts', 'HERALD_CONTRACTS'));
  const handlers = await loadHandlers(flags.handlers);
  const group = flags.group ?? consumeDefaults.group;
  const consumer = flags.consumer ?? group;
  const types = new Set(Object.keys(handlers));
  const topics = flags.topics ?? [
    ...new Set(
      contracts
        .list()
        .filter((c) => types.has(c.eventType))
        .map((c) => c.topic),
    ),
  ];
  const inbox = { schema: flags.inboxSchema ?? consumeDefaults.inboxSchema };

  const kind = storeKindOf(database);
  let runtime: SelfConsumer | undefined;
  const observe =
    metricsAt &&
    consumerObservability({
      address: metricsAt,
      logger: log,
      ...(flags.metricsLagInterval === undefined ? {} : { lagIntervalMs: positiveMs(flags.metricsLagInterval, '--metrics-lag-interval') }),
      storage: 'database',
    });
  if (observe) registerInboxMetrics(observe.registry, { consumer: () => runtime, name: consumer, store: kind, topics });
  const observer: SelfConsumerObserver | undefined = observe && {
    prepared: () => observe.health.prepared(),
    batchApplied: () => observe.health.batchDone(),
    failed: (where, err) => observe.health.failed(where === 'broker' ? 'broker' : 'storage', err),
  };
  // Listening first: while the inbox is migrated and the group joined, /readyz says what it waits for.
  await observe?.start();
  try {
    if (kind === 'mysql') await migrateMysqlInbox(database, inbox);
    else await migrateInbox(database, inbox);
    const subscriber = await subscriberFor(broker, {
      topics,
      group,
      createSubscriptions: flags.createSubscriptions === true,
      ...(flags.maxBatch === undefined ? {} : { maxBatch: Number(flags.maxBatch) }),
      ...(flags.maxWaitMs === undefined ? {} : { maxWaitMs: Number(flags.maxWaitMs) }),
    });
    observe?.watchLag(subscriber, group, topics);
    const onAbort = (): void => runtime?.stop();
    const removeSignals = onStopSignals(log, onAbort, 'finishing the batch in hand', 'the broker redelivers what was not acknowledged');
    const progress = setInterval(() => runtime && log.info('consuming', { ...runtime.stats }), 10_000);
    progress.unref();
    try {
      runtime = new SelfConsumer({
        subscriber,
        database,
        consumer,
        handlers,
        contracts,
        inbox,
        logger: log,
        ...(observer ? { observer } : {}),
      });
      control.signal?.addEventListener('abort', onAbort, { once: true });
      if (control.signal?.aborted) runtime.stop();
      await runtime.prepare();
      log.info('consumer started', { subscriber: subscriber.name, group, consumer, topics, handlers: [...types], inbox: inbox.schema });
      await runtime.run();
      log.info('consumer stopped', { ...runtime.stats });
    } finally {
      clearInterval(progress);
      control.signal?.removeEventListener('abort', onAbort);
      removeSignals();
      await runtime?.close();
      await subscriber.close();
    }
  } finally {
    await observe?.stop();
  }
}

/** Imports the handler module and returns its handlers: the named export `handlers`, else the default export. */
export async function loadHandlers(file: string | undefined): Promise<EventHandlers> {
  if (file === undefined || file === '') {
    throw new HeraldError(ErrorCodes.CONFIG_INVALID, "missing option 'handlers': pass --handlers ./handlers.js", {
      details: { option: 'handlers' },
    });
  }
  let mod: { handlers?: unknown; default?: unknown };
  try {
    mod = (await import(pathToFileURL(resolve(file)).href)) as typeof mod;
  } catch (cause) {
    throw new HeraldError(ErrorCodes.CONFIG_INVALID, `cannot import the handler module '${file}': ${(cause as Error).message}`, {
      cause,
      details: { option: 'handlers', file },
    });
  }
  const handlers = mod.handlers ?? mod.default;
  const entries = handlers !== null && typeof handlers === 'object' ? Object.entries(handlers) : [];
  if (entries.length === 0 || entries.some(([, fn]) => typeof fn !== 'function')) {
    throw new HeraldError(
      ErrorCodes.CONFIG_INVALID,
      `the handler module '${file}' must export 'handlers' (or a default export): an object mapping event types to async (tx, event) => void functions`,
      { details: { option: 'handlers', file } },
    );
  }
  return handlers as EventHandlers;
}
