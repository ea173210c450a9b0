import { Gauge, type Registry } from 'prom-client';
import type { Subscriber } from '../brokers/subscriber.js';
import type { Logger } from './logger.js';

/** Options of {@link registerLagMetrics}. */
export interface LagMetricsOptions {
  readonly subscriber: Subscriber;
  /** The consumer group: a label, bounded (one per process). */
  readonly group: string;
  /** Topics shown at 0 until measured. */
  readonly topics: readonly string[];
  readonly logger: Logger;
  /** Time between two lag reads, in ms (default 15000). */
  readonly intervalMs?: number;
}

/** The lag gauge's timer. */
export interface LagMetrics {
  start(): void;
  stop(): void;
}

/**
 * Registers `herald_consumer_lag_messages{group, topic}`: messages in the broker behind what
 * this process acknowledged, read from `subscriber.lag()` on its own timer (never on a scrape,
 * which stays memory-only). Subscribers without `lag()` (every broker but Kafka) register
 * nothing. A failed read keeps the last values and logs at debug level: the broker's health
 * is `/readyz`'s to report.
 */
export function registerLagMetrics(registry: Registry, options: LagMetricsOptions): LagMetrics {
  const read = options.subscriber.lag?.bind(options.subscriber);
  if (!read) return { start: () => undefined, stop: () => undefined };
  const last = new Map<string, number>(options.topics.map((t) => [t, 0]));
  new Gauge({
    name: 'herald_consumer_lag_messages',
    help: 'Messages in the broker behind the offsets this process committed, per topic (Kafka).',
    labelNames: ['group', 'topic'],
    registers: [registry],
    collect() {
      for (const [topic, n] of last) this.set({ group: options.group, topic }, n);
    },
  });
  let timer: NodeJS.Timeout | undefined;
  let reading = false;
  const tick = async (): Promise<void> => {
    if (reading) return;
    reading = true;
    try {
      for (const [topic, n] of await read()) last.set(topic, n);
    } catch (err) {
      options.logger.debug(`cannot read the consumer lag: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      reading = false;
    }
  };
  return {
    start() {
      timer = setInterval(() => void tick(), options.intervalMs ?? 15_000);
      timer.unref();
    },
    stop() {
      clearInterval(timer);
    },
  };
}
