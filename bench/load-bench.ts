// Herald benchmark: the warehouse loader against a hand-written loader, side by side, in one run,
// from the same Kafka topic into the same table shape of the same warehouse.
//
//   herald  Loader: KafkaSubscriber -> contract validation, PII treatment, typed rows -> sink
//           (DuckDB: appender into a staging table, INSERT ... ON CONFLICT; PostgreSQL: INSERT ...
//           SELECT FROM jsonb_array_elements($1) ON CONFLICT), offsets committed after each warehouse commit
//   raw     the same consumer settings, JSON.parse, and the sink's fastest plain path (DuckDB: the
//           appender straight into the typed table; PostgreSQL: INSERT ... SELECT FROM unnest(...)),
//           offsets committed after each commit; no validation, no dedup, no PII treatment
//   consume the same consumer alone: consume and commit, nothing written; once per round, the
//           ceiling both loaders are measured against (issue 14: Herald >= 0.8 of it)
//
// Each run reads the whole topic with a fresh consumer group into a fresh table; the rate is rows
// per second from the first message received to the last row committed (the group join, which
// Kafka delays by group.initial.rebalance.delay.ms, is left out of both).
//
//   node --import tsx bench/load-bench.ts [--rows 200000] [--rounds 3] [--only duckdb|postgres|all]
//
// stdout: one JSON line (starts with '{'), then a short table. Progress: stderr.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { event } from '../src/event.js';
import { KafkaPublisher } from '../src/brokers/kafka/publisher.js';
import { KafkaSubscriber } from '../src/brokers/kafka/subscriber.js';
import type { Subscriber, SubscriberBatch } from '../src/brokers/subscriber.js';
import { RowBuilder } from '../src/warehouse/rows.js';
import { planTables } from '../src/warehouse/table-plan.js';
import { openDuckDb } from '../src/warehouse/duckdb-instance.js';
import { DuckDbSink } from '../src/warehouse/duckdb-sink.js';
import { Loader } from '../src/warehouse/loader.js';
import { PostgresSink } from '../src/warehouse/postgres-sink.js';
import type { WarehouseSink } from '../src/warehouse/sink.js';
import { cpuMeter, perThousand } from './cpu-accounting.js';
import {
  BenchError,
  checkKafka,
  CONTRACT,
  deferCleanup,
  incomingOrders,
  kafkaAdmin,
  kafkaModule,
  log,
  machineFacts,
  makeOrder,
  median,
  orderContracts,
  payloadOf,
  pgConnect,
  readSettings,
  round3,
  runBench,
  SERVICE_SETTINGS,
  SOURCE,
  stderrLogger,
  suffix,
  table,
  withTimeout,
  type Setting,
} from './common.js';

const SETTINGS = {
  ...SERVICE_SETTINGS,
  rows: { env: 'BENCH_LOAD_ROWS', fallback: '200000', help: 'events on the topic, loaded by every run' },
  rounds: { env: 'BENCH_LOAD_ROUNDS', fallback: '3', help: 'runs per variant and warehouse (the median is reported)' },
  batch: { env: 'BENCH_LOAD_BATCH', fallback: '5000', help: 'events per warehouse transaction' },
  only: { env: 'BENCH_LOAD_ONLY', fallback: 'all', help: 'duckdb, postgres or all' },
  components: { env: 'BENCH_LOAD_COMPONENTS', fallback: 'yes', help: 'also time Herald from memory, without the broker (yes or no)' },
} satisfies Record<string, Setting>;

const DATASCHEMA = `urn:herald:contract:${CONTRACT}:1.0.0`;
/** The contract's table, written by the raw loader with the same columns and types. */
const COLUMNS = ['_event_id', 'order_id', 'customer_id', 'customer_email', 'total', 'currency', 'placed_at', 'lines'] as const;
const DUCK_TYPES = [
  'VARCHAR',
  'UUID',
  'VARCHAR',
  'VARCHAR',
  'DECIMAL(12,2)',
  'VARCHAR',
  'TIMESTAMP WITH TIME ZONE',
  'STRUCT(sku VARCHAR, quantity BIGINT, unit_price DOUBLE)[]',
];
const PG_TYPES = ['text', 'uuid', 'text', 'text', 'numeric(12,2)', 'text', 'timestamptz', 'jsonb'];

type Warehouse = 'duckdb' | 'postgres';
interface Run {
  warehouse: Warehouse | 'none';
  /** `consume`: the consumer alone (consume + commit, nothing written), the ceiling of both. */
  variant: 'herald' | 'raw' | 'consume';
  rowsPerSecond: number;
  seconds: number;
  /**
   * CPU ms per 1,000 rows of this process, PostgreSQL and the broker over the whole run (group
   * join included, so idle is left out): which part of the machine the loader waits on.
   */
  cpuMsPer1000Rows?: { bench: number; postgres: number; kafka: number; other: number };
}

/** Runs `work` and returns its result with the CPU the machine's parts spent per 1,000 of `rows` meanwhile. */
async function withCpu<T>(rows: number, work: () => Promise<T>): Promise<[T, NonNullable<Run['cpuMsPer1000Rows']>]> {
  const meter = cpuMeter();
  const result = await work();
  const { bench, postgres, kafka, other } = perThousand(meter.stop(), rows);
  return [result, { bench, postgres, kafka, other }];
}

async function main(): Promise<void> {
  const { get, int } = readSettings(SETTINGS, 'bench/load-bench.ts');
  const only = get('only');
  if (!['duckdb', 'postgres', 'all'].includes(only))
    throw new BenchError(`--only (BENCH_LOAD_ONLY) must be duckdb, postgres or all, got '${only}'`);
  const cfg = {
    pg: get('pg'),
    kafka: get('kafka').replace(/^kafka:\/\//, ''),
    rows: int('rows'),
    rounds: int('rounds'),
    batch: int('batch'),
  };
  const warehouses: Warehouse[] = only === 'all' ? ['duckdb', 'postgres'] : [only as Warehouse];
  await checkKafka(cfg);
  const db = await pgConnect(cfg.pg);
  deferCleanup('closing the PostgreSQL connection', () => db.end());
  const machine = await machineFacts(cfg, db);

  const topic = `herald-bench-load-${suffix}`;
  const admin = await kafkaAdmin(cfg);
  await admin.createTopics({ topics: [topic], partitions: 4, replicas: 1 });
  deferCleanup(`deleting topic ${topic}`, async () => {
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.close();
  });
  await fill(cfg, topic);

  const runs: Run[] = [];
  for (let round = 1; round <= cfg.rounds; round++) {
    // The ceiling, in the same round as the loaders it bounds.
    const [ceiling, ceilingCpu] = await withCpu(cfg.rows, () =>
      withTimeout(rawRun(cfg, topic, 'none', db), 600_000, `consume-only round ${round}`),
    );
    runs.push({
      warehouse: 'none',
      variant: 'consume',
      seconds: round3(ceiling),
      rowsPerSecond: Math.round(cfg.rows / ceiling),
      cpuMsPer1000Rows: ceilingCpu,
    });
    log(
      `round ${round}: consume only: ${runs.at(-1)!.rowsPerSecond} rows/s (${runs.at(-1)!.seconds} s), CPU ms per 1000 rows ${JSON.stringify(ceilingCpu)}`,
    );
    for (const warehouse of warehouses) {
      for (const variant of ['herald', 'raw'] as const) {
        const [seconds, cpu] = await withCpu(cfg.rows, () =>
          withTimeout(
            variant === 'herald' ? heraldRun(cfg, topic, warehouse, db) : rawRun(cfg, topic, warehouse, db),
            600_000,
            `${variant} ${warehouse} round ${round}`,
          ),
        );
        const run: Run = {
          warehouse,
          variant,
          seconds: round3(seconds),
          rowsPerSecond: Math.round(cfg.rows / seconds),
          cpuMsPer1000Rows: cpu,
        };
        runs.push(run);
        log(
          `round ${round}: ${variant} -> ${warehouse}: ${run.rowsPerSecond} rows/s (${run.seconds} s), CPU ms per 1000 rows ${JSON.stringify(cpu)}`,
        );
      }
    }
  }

  // Where the time goes: the Kafka consumer with nothing to write, and Herald's rows and sink with
  // the events already in memory (no broker).
  const components =
    get('components') === 'yes'
      ? {
          // One after the other: run side by side they would share the two cores.
          ...(await sequentially(warehouses, async (w) => [
            `${w}FromMemoryRowsPerSecond`,
            Math.round(cfg.rows / (await fromMemory(cfg, w, db))),
          ])),
        }
      : undefined;
  if (components) log(`components: ${JSON.stringify(components)}`);

  const consumeOnly = Math.round(median(runs.filter((r) => r.variant === 'consume').map((r) => r.rowsPerSecond)));
  const summary = warehouses.map((w) => {
    const rate = (v: 'herald' | 'raw'): number =>
      median(runs.filter((r) => r.warehouse === w && r.variant === v).map((r) => r.rowsPerSecond));
    return {
      warehouse: w,
      heraldRowsPerSecond: rate('herald'),
      rawRowsPerSecond: rate('raw'),
      consumeOnlyRowsPerSecond: consumeOnly,
      ratio: round3(rate('herald') / rate('raw')),
      /** Herald against the consumer alone: the issue 14 goal is ≥ 0.8. */
      ceilingRatio: round3(rate('herald') / consumeOnly),
    };
  });
  process.stdout.write(
    JSON.stringify({ bench: 'load', rows: cfg.rows, rounds: cfg.rounds, batch: cfg.batch, summary, components, runs, machine }) + '\n',
  );
  process.stdout.write(
    '\n' +
      table(
        ['warehouse', 'herald rows/s', 'raw rows/s', 'consume only rows/s', 'herald / raw', 'herald / consume only'],
        summary.map((s) => [
          s.warehouse,
          s.heraldRowsPerSecond,
          s.rawRowsPerSecond,
          s.consumeOnlyRowsPerSecond,
          s.ratio.toFixed(2),
          s.ceilingRatio.toFixed(2),
        ]),
      ) +
      '\n',
  );
}

/** `f` for each item, one after the other, as an object of the returned entries. */
async function sequentially<T>(items: readonly T[], f: (item: T) => Promise<readonly [string, number]>): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const item of items) {
    const [k, v] = await f(item);
    out[k] = v;
  }
  return out;
}

/** Puts `rows` order-placed events on the topic with Herald's publisher. */
async function fill(cfg: { kafka: string; rows: number }, topic: string): Promise<void> {
  const publisher = new KafkaPublisher({ brokers: cfg.kafka });
  const t0 = performance.now();
  try {
    for (let i = 0; i < cfg.rows; i += 5_000) {
      const batch = Array.from({ length: Math.min(5_000, cfg.rows - i) }, () => {
        const o = makeOrder();
        const { data, ...envelope } = event({
          source: SOURCE,
          type: CONTRACT,
          dataschema: DATASCHEMA,
          partitionkey: o.customerId,
          data: { ...payloadOf(o), customerEmail: `${o.customerId}@example.com` },
        });
        return { event: envelope, topic, data: JSON.stringify(data) };
      });
      await publisher.publish(batch);
    }
  } finally {
    await publisher.close();
  }
  log(`topic ${topic}: ${cfg.rows} events in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

/** Herald's loader; returns the seconds from the first batch received to the last row committed. */
async function heraldRun(
  cfg: { kafka: string; pg: string; rows: number; batch: number },
  topic: string,
  warehouse: Warehouse,
  db: import('pg').Client,
): Promise<number> {
  const target = await freshTarget(warehouse, db, cfg.pg);
  let first = 0;
  const subscriber = firstBatchTimed(
    new KafkaSubscriber({
      brokers: cfg.kafka,
      topics: [topic],
      group: `bench-herald-${Math.random().toString(36).slice(2)}`,
      maxBatch: cfg.batch,
    }),
    () => (first ||= performance.now()),
  );
  const loader = new Loader({ subscriber, sink: target.sink, contracts: orderContracts(topic), logger: stderrLogger });
  const running = loader.run();
  let failed: unknown;
  running.catch((err: unknown) => (failed = err));
  while (loader.stats.inserted < cfg.rows) {
    if (failed) throw failed;
    await new Promise((r) => setTimeout(r, 20));
  }
  const end = performance.now();
  loader.stop();
  await running;
  await subscriber.close();
  await target.sink.close();
  await target.drop();
  if (loader.stats.deadLettered > 0)
    throw new BenchError(`herald dead-lettered ${loader.stats.deadLettered} events; the bench data is wrong`);
  return (end - first) / 1000;
}

/**
 * The hand-written loader; returns the seconds from the first message to the last row committed.
 * With warehouse `none` it only consumes and commits offsets: the consumer's own ceiling.
 */
async function rawRun(
  cfg: { kafka: string; pg: string; rows: number; batch: number },
  topic: string,
  warehouse: Warehouse | 'none',
  db: import('pg').Client,
): Promise<number> {
  const kafka = await kafkaModule();
  const consumer = new kafka.Consumer({
    clientId: 'bench-raw',
    bootstrapBrokers: [cfg.kafka],
    groupId: `bench-raw-${Math.random().toString(36).slice(2)}`,
    autocommit: false,
    deserializers: kafka.stringDeserializers,
  });
  const write =
    warehouse === 'duckdb'
      ? await rawDuckDb()
      : warehouse === 'postgres'
        ? await rawPostgres(db)
        : { rows: async () => {}, close: async () => {} };
  const stream = await consumer.consume({ topics: [topic], mode: kafka.MessagesStreamModes.EARLIEST, autocommit: false });
  let first = 0;
  let done = 0;
  let pending: import('@platformatic/kafka').Message<string, string, string, string>[] = [];
  const flush = async (): Promise<void> => {
    const batch = pending;
    pending = [];
    await write.rows(
      batch.map((m) => {
        const d = JSON.parse(m.value) as Record<string, unknown>;
        const id = m.headers.get('ce_id')!;
        // The table's names are snake_case, as Herald's are.
        const lines = (d.lines as { sku: string; quantity: number; unitPrice: number }[]).map((l) => ({
          sku: l.sku,
          quantity: l.quantity,
          unit_price: l.unitPrice,
        }));
        return [id, d.orderId, d.customerId, d.customerEmail, d.total, d.currency, d.placedAt, lines] as unknown[];
      }),
    );
    const next = new Map<string, { topic: string; partition: number; offset: bigint; leaderEpoch: number }>();
    for (const m of batch) next.set(`${m.partition}`, { topic, partition: m.partition, offset: m.offset + 1n, leaderEpoch: -1 });
    await consumer.commit({ offsets: [...next.values()] });
    done += batch.length;
  };
  for await (const m of stream) {
    first ||= performance.now();
    pending.push(m as never);
    if (pending.length >= cfg.batch || done + pending.length >= cfg.rows) {
      stream.pause();
      await flush();
      stream.resume();
      if (done >= cfg.rows) break;
    }
  }
  const end = performance.now();
  await stream.close();
  await new Promise<void>((r) => consumer.close(true, () => r()));
  await write.close();
  return (end - first) / 1000;
}

/** Herald's row building and sink with the events already in memory; returns the seconds. */
async function fromMemory(
  cfg: { pg: string; rows: number; batch: number },
  warehouse: Warehouse,
  db: import('pg').Client,
): Promise<number> {
  const target = await freshTarget(warehouse, db, cfg.pg);
  const contracts = orderContracts('memory');
  const builder = new RowBuilder(contracts, await target.sink.prepare(planTables(contracts.list())), undefined);
  const events = incomingOrders(cfg.rows);
  const t0 = performance.now();
  for (let i = 0; i < events.length; i += cfg.batch) await target.sink.write(builder.build(events.slice(i, i + cfg.batch)));
  const seconds = (performance.now() - t0) / 1000;
  await target.sink.close();
  await target.drop();
  return seconds;
}

interface RawWriter {
  rows(rows: unknown[][]): Promise<void>;
  close(): Promise<void>;
}

/** The DuckDB appender straight into the typed table, one transaction per batch. */
async function rawDuckDb(): Promise<RawWriter> {
  const dir = await mkdtemp(join(tmpdir(), 'herald-bench-load-'));
  const duck = await openDuckDb(join(dir, 'raw.duckdb'));
  await duck.connection.run(`CREATE TABLE orders (${COLUMNS.map((c, i) => `${c} ${DUCK_TYPES[i]}`).join(', ')})`);
  return {
    rows: async (rows) => {
      await duck.connection.run('BEGIN');
      const appender = await duck.connection.createAppender('orders');
      for (const r of rows) {
        for (const v of r) {
          if (v === null || v === undefined) appender.appendNull();
          else appender.appendVarchar(typeof v === 'string' ? v : JSON.stringify(v));
        }
        appender.endRow();
      }
      appender.flushSync();
      appender.closeSync();
      await duck.connection.run('COMMIT');
    },
    close: async () => {
      duck.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** One INSERT ... SELECT FROM unnest(...) per batch into the typed table. */
async function rawPostgres(db: import('pg').Client): Promise<RawWriter> {
  const schema = `bench_raw_${suffix}_${Math.random().toString(36).slice(2, 8)}`;
  await db.query(`CREATE SCHEMA ${schema}`);
  await db.query(`CREATE TABLE ${schema}.orders (${COLUMNS.map((c, i) => `${c} ${PG_TYPES[i]}`).join(', ')})`);
  const sql =
    `INSERT INTO ${schema}.orders SELECT ${COLUMNS.map((c, i) => `${c}::${PG_TYPES[i]}`).join(', ')} ` +
    `FROM unnest(${COLUMNS.map((_, i) => `$${i + 1}::text[]`).join(', ')}) AS s(${COLUMNS.join(', ')})`;
  return {
    rows: async (rows) => {
      const columns = COLUMNS.map((_, c) => rows.map((r) => (typeof r[c] === 'string' || r[c] == null ? r[c] : JSON.stringify(r[c]))));
      await db.query(sql, columns);
    },
    close: () => db.query(`DROP SCHEMA ${schema} CASCADE`).then(() => undefined),
  };
}

/** A fresh warehouse for one Herald run. */
async function freshTarget(
  warehouse: Warehouse,
  db: import('pg').Client,
  url: string,
): Promise<{ sink: WarehouseSink; drop(): Promise<void> }> {
  if (warehouse === 'duckdb') {
    const dir = await mkdtemp(join(tmpdir(), 'herald-bench-load-'));
    return { sink: new DuckDbSink({ path: join(dir, 'herald.duckdb') }), drop: () => rm(dir, { recursive: true, force: true }) };
  }
  const schema = `bench_load_${suffix}_${Math.random().toString(36).slice(2, 8)}`;
  return { sink: new PostgresSink({ url, schema }), drop: () => db.query(`DROP SCHEMA ${schema} CASCADE`).then(() => undefined) };
}

/** The subscriber, calling `onFirst` when its first batch arrives. */
function firstBatchTimed(subscriber: Subscriber, onFirst: () => void): Subscriber {
  return {
    name: subscriber.name,
    prepare: () => subscriber.prepare(),
    close: () => subscriber.close(),
    async *batches(signal?: AbortSignal): AsyncGenerator<SubscriberBatch> {
      for await (const batch of subscriber.batches(signal)) {
        onFirst();
        yield batch;
      }
    },
  };
}

void runBench(main);
