// What `herald relay --metrics` costs: the same polling relay drains the same prefilled outbox
// into Kafka with the metrics and health endpoints off and on (a scraper reading /metrics every
// second, 15× Prometheus' default rate, and the outbox status monitor on its timer), rounds
// alternating, in one run, each timed from a settled start. Prints JSON; the figure is on / off
// (goal ≥ 0.97).
//
//   node --import tsx bench/metrics-cost-bench.ts [--events 30000] [--rounds 5] [--batch 1000]
import { performance } from 'node:perf_hooks';
import { PollingSource, postgresOutboxStatus, Relay } from '../src/index.js';
import { KafkaPublisher } from '../src/brokers/kafka/publisher.js';
import { relayObservability } from '../src/cli/relay-observability.js';
import {
  BenchError,
  cleanups,
  drainTarget,
  log,
  median,
  printResult,
  round1,
  round3,
  runBench,
  SERVICE_SETTINGS,
  setUpBench,
  stderrLogger,
  type Setting,
} from './common.js';

const SETTINGS = {
  ...SERVICE_SETTINGS,
  events: { env: 'BENCH_EVENTS', fallback: '30000', help: 'events drained per run' },
  batch: { env: 'BENCH_BATCH', fallback: '1000', help: 'relay batchSize' },
  rounds: { env: 'BENCH_ROUNDS', fallback: '5', help: 'rounds of off/on (median is reported)' },
} satisfies Record<string, Setting>;

async function main(): Promise<void> {
  const { int, services, admin, machine } = await setUpBench(SETTINGS, 'bench/metrics-cost-bench.ts');
  const cfg = { ...services, events: int('events'), batch: int('batch'), rounds: int('rounds') };
  const { schema, topic, prefill } = await drainTarget(cfg, admin, 'metrics');
  const publisher = new KafkaPublisher({ brokers: [cfg.kafka], clientId: 'herald-bench-metrics' });
  cleanups.push({ what: 'close the publisher', run: () => publisher.close() });
  await publisher.prepare([topic]);

  /** Drains `n` events; with `metrics`, the endpoints are served and scraped every second. */
  async function drain(n: number, metrics: boolean): Promise<{ eventsPerSec: number; scrapes: number }> {
    const source = new PollingSource({ database: cfg.pg, schema, logger: stderrLogger });
    await source.start();
    const built: { relay?: Relay } = {};
    const observe = metrics
      ? relayObservability({
          address: { host: '127.0.0.1', port: 0 },
          source,
          publisher,
          store: 'postgres',
          readStatus: () => postgresOutboxStatus(cfg.pg, { schema }),
          stats: () => built.relay?.stats,
          logger: stderrLogger,
        })
      : undefined;
    const relay = (built.relay = new Relay({
      source,
      publisher,
      batchSize: cfg.batch,
      logger: stderrLogger,
      ...(observe ? { observer: observe.observer } : {}),
    }));
    const server = await observe?.start();
    let scrapes = 0;
    const scraper =
      server &&
      setInterval(() => {
        void fetch(`http://127.0.0.1:${server.address.port}/metrics`)
          .then((r) => r.text())
          .then(() => scrapes++);
      }, 1_000);
    // Both variants settle for a second before the clock starts: with metrics, the first outbox
    // status read and broker probe run at start-up, once per process, which is not the steady
    // cost this measures (later reads come every 15 s, probes every 10 s, and fall in the drain).
    await new Promise((r) => setTimeout(r, 1_000));
    const t0 = performance.now();
    const running = relay.run();
    while (relay.stats.delivered < n) {
      await new Promise((r) => setTimeout(r, 2));
      if (performance.now() - t0 > 300_000)
        throw new BenchError(`the relay delivered ${relay.stats.delivered}/${n} in 300 s; is Kafka up?`);
    }
    const secs = (performance.now() - t0) / 1000;
    if (scraper) clearInterval(scraper);
    await relay.stop();
    await running;
    await observe?.stop();
    await source.close();
    await admin.query(`VACUUM ${schema}.outbox`);
    return { eventsPerSec: n / secs, scrapes };
  }

  await prefill(Math.min(cfg.events, 5_000));
  await drain(Math.min(cfg.events, 5_000), true); // warm-up of both paths' code
  const off: number[] = [];
  const on: number[] = [];
  let scrapes = 0;
  for (let round = 1; round <= cfg.rounds; round++) {
    // Alternate which goes first, so a drift of the machine does not favour one side.
    for (const metrics of round % 2 === 1 ? [false, true] : [true, false]) {
      await prefill(cfg.events);
      const r = await drain(cfg.events, metrics);
      (metrics ? on : off).push(r.eventsPerSec);
      scrapes += r.scrapes;
      log(`round ${round}: metrics ${metrics ? 'on ' : 'off'} ${Math.round(r.eventsPerSec)} events/s`);
    }
  }
  const result = {
    bench: 'metrics-cost',
    machine,
    settings: cfg,
    eventsPerSec: { off: round1(median(off)), on: round1(median(on)) },
    rounds: { off: off.map(Math.round), on: on.map(Math.round) },
    scrapes,
    ratio: round3(median(on) / median(off)),
    goal: 0.97,
  };
  printResult(result);
}

await runBench(main);
