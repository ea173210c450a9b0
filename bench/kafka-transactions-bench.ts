// What fencing with Kafka transactions costs the relay: the same polling relay drains the same
// prefilled outbox into Kafka with the transactional producer (one transaction per batch, the
// default) and with the plain idempotent producer (`transactions: false`), rounds alternating, in
// one run, same batch size. Prints one JSON line; the figure is transactional / idempotent.
//
//   node --import tsx bench/kafka-transactions-bench.ts [--events 20000] [--rounds 3] [--batch 500]
import { performance } from 'node:perf_hooks';
import { PollingSource, Relay } from '../src/index.js';
import { KafkaPublisher } from '../src/brokers/kafka/publisher.js';
import {
  BenchError,
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
  events: { env: 'BENCH_EVENTS', fallback: '20000', help: 'events drained per run' },
  batch: { env: 'BENCH_BATCH', fallback: '500', help: 'relay batchSize (the relay default)' },
  rounds: { env: 'BENCH_ROUNDS', fallback: '3', help: 'rounds of idempotent/transactional (median is reported)' },
} satisfies Record<string, Setting>;

async function main(): Promise<void> {
  const { int, services, admin, machine } = await setUpBench(SETTINGS, 'bench/kafka-transactions-bench.ts');
  const cfg = { ...services, events: int('events'), batch: int('batch'), rounds: int('rounds') };
  const { schema, prefill } = await drainTarget(cfg, admin, 'txn');

  /** Drains `n` events with a fresh relay and publisher, transactional or not. */
  async function drain(n: number, transactions: boolean): Promise<number> {
    const publisher = new KafkaPublisher({ brokers: [cfg.kafka], clientId: 'herald-bench-txn', transactions });
    const source = new PollingSource({ database: cfg.pg, schema, logger: stderrLogger });
    await source.start();
    const relay = new Relay({ source, publisher, batchSize: cfg.batch, logger: stderrLogger });
    await new Promise((r) => setTimeout(r, 500));
    const t0 = performance.now();
    const running = relay.run();
    while (relay.stats.delivered < n) {
      await new Promise((r) => setTimeout(r, 2));
      if (performance.now() - t0 > 300_000)
        throw new BenchError(`the relay delivered ${relay.stats.delivered}/${n} in 300 s; is Kafka up?`);
    }
    const secs = (performance.now() - t0) / 1000;
    await relay.stop();
    await running;
    await source.close();
    await publisher.close();
    await admin.query(`VACUUM ${schema}.outbox`);
    return n / secs;
  }

  await prefill(Math.min(cfg.events, 5_000));
  await drain(Math.min(cfg.events, 5_000), true); // warm-up of both paths' code
  const idempotent: number[] = [];
  const transactional: number[] = [];
  for (let round = 1; round <= cfg.rounds; round++) {
    // Alternate which goes first, so a drift of the machine does not favour one side.
    for (const transactions of round % 2 === 1 ? [false, true] : [true, false]) {
      await prefill(cfg.events);
      const rate = await drain(cfg.events, transactions);
      (transactions ? transactional : idempotent).push(rate);
      log(`round ${round}: ${transactions ? 'transactional' : 'idempotent  '} ${Math.round(rate)} events/s`);
    }
  }
  const result = {
    bench: 'kafka-transactions',
    machine,
    settings: cfg,
    eventsPerSec: { idempotent: round1(median(idempotent)), transactional: round1(median(transactional)) },
    rounds: { idempotent: idempotent.map(Math.round), transactional: transactional.map(Math.round) },
    ratio: round3(median(transactional) / median(idempotent)),
  };
  printResult(result);
}

await runBench(main);
