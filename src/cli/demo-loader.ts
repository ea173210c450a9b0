import type { ContractRegistry } from '../contracts/registry.js';
import { KafkaSubscriber } from '../brokers/kafka/subscriber.js';
import type { Logger } from '../observe/logger.js';
import { DuckDbSink } from '../warehouse/duckdb-sink.js';
import { Loader, type LoaderStats } from '../warehouse/loader.js';

/**
 * Runs the warehouse loader from Kafka into a DuckDB file, in this process, until `done` says so
 * (or a minute passed), then stops it after its batch in hand. For the demos, which must end
 * once the events they wrote are loaded; `herald load` runs until a signal instead.
 */
export async function loadFromKafkaUntil(
  options: { brokers: string; topics: string[]; group: string; file: string; contracts: ContractRegistry; logger: Logger },
  done: (stats: LoaderStats) => Promise<boolean> | boolean,
): Promise<LoaderStats> {
  const subscriber = new KafkaSubscriber({ brokers: options.brokers, topics: options.topics, group: options.group });
  const sink = new DuckDbSink({ path: options.file });
  const loader = new Loader({ subscriber, sink, contracts: options.contracts, logger: options.logger });
  try {
    const running = loader.run();
    let failed: unknown;
    running.catch((err: unknown) => (failed = err));
    const deadline = Date.now() + 60_000;
    while (!(await done(loader.stats)) && Date.now() < deadline) {
      if (failed) throw failed;
      await new Promise((r) => setTimeout(r, 100));
    }
    loader.stop();
    await running;
    return loader.stats;
  } finally {
    await subscriber.close();
    await sink.close();
  }
}
