// Herald benchmarks (DESIGN.md §8): write overhead of the outbox in a business transaction, and
// relay throughput PostgreSQL → Kafka against the raw Kafka client. Every comparison runs side
// by side in one process, on the same database, broker and durability, so that the ratios hold
// even where absolute numbers drift on a shared machine.
//
//   node --import tsx bench/outbox-bench.ts [--only write|relay] [--write-tx 1500] ...
//   npx tsx bench/outbox-bench.ts --help
//
// stdout: one JSON line per part (starts with '{'), followed by a short table. Progress: stderr.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import {
  migratePostgres,
  PollingSource,
  PostgresOutbox,
  postgresOutboxStatus,
  Relay,
  type AppendInput,
  type HeraldEvent,
  type OutgoingEvent,
  type Publisher,
  type RelayRecord,
  type RelaySource,
} from '../src/index.js';
import { KafkaPublisher } from '../src/brokers/kafka/publisher.js';
import { cpuMeter, perThousand, type CpuUse } from './cpu-accounting.js';
import {
  BenchError,
  checkKafka,
  cleanups,
  CONTRACT,
  kafkaAdmin,
  kafkaModule,
  log,
  machineFacts,
  makeOrder,
  median,
  messageOf,
  orderContracts,
  payloadOf,
  pgConnect,
  readSettings,
  relayOrder,
  round1,
  round3,
  runBench,
  SERVICE_SETTINGS,
  SOURCE,
  stderrLogger,
  suffix,
  table,
  totalOf,
  withTimeout,
  type Machine,
  type Order,
  type Setting,
} from './common.js';

// ------------------------------------------------------------------------------ configuration

const SETTINGS = {
  ...SERVICE_SETTINGS,
  only: { env: 'BENCH_ONLY', fallback: 'all', help: 'which part to run: write, relay or all' },
  'write-clients': { env: 'BENCH_WRITE_CLIENTS', fallback: '4', help: 'concurrent pg connections writing business transactions' },
  'write-tx': { env: 'BENCH_WRITE_TX', fallback: '1500', help: 'transactions per connection, per variant, per round' },
  'write-rounds': { env: 'BENCH_WRITE_ROUNDS', fallback: '5', help: 'rounds of the three write variants (median is reported)' },
  'relay-events': { env: 'BENCH_RELAY_EVENTS', fallback: '50000', help: 'events drained per relay run' },
  'relay-batch': { env: 'BENCH_RELAY_BATCH', fallback: '1000', help: 'relay batchSize and raw producer batch size' },
  'relay-rounds': { env: 'BENCH_RELAY_ROUNDS', fallback: '5', help: 'rounds of herald relay vs raw producer (median is reported)' },
} satisfies Record<string, Setting>;

interface Config {
  pg: string;
  kafka: string;
  only: 'write' | 'relay' | 'all';
  writeClients: number;
  writeTx: number;
  writeRounds: number;
  relayEvents: number;
  relayBatch: number;
  relayRounds: number;
}

function readConfig(): Config {
  const { get, int } = readSettings(SETTINGS, 'bench/outbox-bench.ts');
  const only = get('only');
  if (only !== 'write' && only !== 'relay' && only !== 'all')
    throw new BenchError(`--only (BENCH_ONLY) must be write, relay or all, got '${only}'`);
  return {
    pg: get('pg'),
    kafka: get('kafka').replace(/^kafka:\/\//, ''),
    only,
    writeClients: int('write-clients'),
    writeTx: int('write-tx'),
    writeRounds: int('write-rounds'),
    relayEvents: int('relay-events'),
    relayBatch: int('relay-batch'),
    relayRounds: int('relay-rounds'),
  };
}

// ------------------------------------------------------------------------------ 1. write overhead

type Variant = 'none' | 'handWritten' | 'herald';
const VARIANTS: readonly Variant[] = ['none', 'handWritten', 'herald'];
const VARIANT_LABEL: Record<Variant, string> = {
  none: '(a) no event',
  handWritten: '(b) hand-written outbox INSERT',
  herald: '(c) Herald PostgresOutbox.append',
};

async function writeBench(cfg: Config, machine: Machine, admin: pg.Client): Promise<void> {
  const schema = `herald_bench_app_${suffix}`;
  const heraldSchema = `herald_bench_outbox_${suffix}`;
  log(`write overhead: schemas ${schema} (orders, order_lines, hand-written outbox) and ${heraldSchema} (Herald outbox)`);
  cleanups.push({ what: `drop schema ${schema}`, run: () => admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`) });
  cleanups.push({ what: `drop schema ${heraldSchema}`, run: () => admin.query(`DROP SCHEMA IF EXISTS ${heraldSchema} CASCADE`) });
  await admin.query(`CREATE SCHEMA ${schema}`);
  // The tables of examples/orders/service.ts.
  await admin.query(`CREATE TABLE ${schema}.orders (
    id uuid PRIMARY KEY, customer_id text NOT NULL, total numeric(12,2) NOT NULL, currency char(3) NOT NULL,
    placed_at timestamptz NOT NULL DEFAULT now())`);
  await admin.query(`CREATE TABLE ${schema}.order_lines (
    order_id uuid NOT NULL REFERENCES ${schema}.orders(id), line int NOT NULL, sku text NOT NULL, quantity int NOT NULL,
    unit_price numeric(12,2) NOT NULL, PRIMARY KEY (order_id, line))`);
  // A fair minimal outbox: what a team writes by hand (id, destination, key, event JSON, time).
  // `json`, not `jsonb`, like Herald's data column, so the baseline does not pay for jsonb parsing.
  await admin.query(`CREATE TABLE ${schema}.outbox (
    id bigserial PRIMARY KEY, topic text NOT NULL, partition_key text NOT NULL, payload json NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now())`);
  await migratePostgres(cfg.pg, { schema: heraldSchema });

  const contracts = orderContracts('bench.order-placed.v1');
  const contract = contracts.get(CONTRACT);
  const outbox = new PostgresOutbox({ contracts, source: SOURCE, schema: heraldSchema });

  const emit: Record<Variant, (c: pg.Client, o: Order) => Promise<unknown>> = {
    none: async () => undefined,
    handWritten: (c, o) => {
      const e = {
        specversion: '1.0',
        id: randomUUID(),
        source: SOURCE,
        type: contract.eventType,
        time: new Date().toISOString(),
        datacontenttype: 'application/json',
        partitionkey: o.customerId,
        data: payloadOf(o),
      };
      return c.query(`INSERT INTO ${schema}.outbox (topic, partition_key, payload) VALUES ($1, $2, $3)`, [
        contract.topic,
        o.customerId,
        JSON.stringify(e),
      ]);
    },
    herald: (c, o) => outbox.append(c, CONTRACT, payloadOf(o)),
  };

  const insertOrder = `INSERT INTO ${schema}.orders (id, customer_id, total, currency) VALUES ($1, $2, $3, $4)`;
  const insertLine = `INSERT INTO ${schema}.order_lines (order_id, line, sku, quantity, unit_price) VALUES ($1, $2, $3, $4, $5)`;
  async function placeOrder(c: pg.Client, o: Order, variant: Variant): Promise<void> {
    await c.query('BEGIN');
    try {
      await c.query(insertOrder, [o.id, o.customerId, totalOf(o), o.currency]);
      for (const [i, l] of o.lines.entries()) await c.query(insertLine, [o.id, i + 1, l.sku, l.quantity, l.unitPrice]);
      await emit[variant](c, o);
      await c.query('COMMIT');
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }

  const clients: pg.Client[] = [];
  cleanups.push({ what: 'close write connections', run: () => Promise.all(clients.map((c) => c.end())) });
  for (let i = 0; i < cfg.writeClients; i++) clients.push(await pgConnect(cfg.pg));

  /** Every variant starts from empty tables and a fresh checkpoint, so none inherits another's WAL or bloat. */
  async function reset(): Promise<void> {
    await admin.query(`TRUNCATE ${schema}.order_lines, ${schema}.orders, ${schema}.outbox, ${heraldSchema}.outbox`);
    await admin.query('CHECKPOINT');
  }

  async function run(variant: Variant, perClient: number): Promise<number> {
    const work = clients.map(() => Array.from({ length: perClient }, makeOrder));
    const t0 = performance.now();
    await Promise.all(
      clients.map(async (c, i) => {
        for (const o of work[i]!) await placeOrder(c, o, variant);
      }),
    );
    return (performance.now() - t0) / 1000;
  }

  log('write overhead: warming up (JIT, contract validator, plan caches)');
  for (const v of VARIANTS) await run(v, Math.min(200, cfg.writeTx));

  const total = cfg.writeClients * cfg.writeTx;
  const rates: Record<Variant, number[]> = { none: [], handWritten: [], herald: [] };
  for (let r = 0; r < cfg.writeRounds; r++) {
    // Rotate the order each round so that no variant always runs first or last.
    const order = VARIANTS.map((_, i) => VARIANTS[(i + r) % VARIANTS.length]!);
    for (const v of order) {
      await reset();
      const secs = await run(v, cfg.writeTx);
      rates[v].push(total / secs);
      log(
        `write overhead: round ${r + 1}/${cfg.writeRounds} ${v.padEnd(11)} ${total} tx in ${secs.toFixed(2)} s = ${Math.round(total / secs)} tx/s`,
      );
    }
  }
  await reset();

  const med = { none: median(rates.none), handWritten: median(rates.handWritten), herald: median(rates.herald) };
  const ratios = {
    heraldVsPlain: round3(med.herald / med.none),
    heraldVsHandWritten: round3(med.herald / med.handWritten),
    handWrittenVsPlain: round3(med.handWritten / med.none),
  };
  const perRound = (a: Variant, b: Variant): number[] => rates[a].map((x, i) => round3(x / rates[b][i]!));
  const result = {
    bench: 'write-overhead',
    unit: 'business transactions/s (1 order + 3 order_lines rows, then COMMIT)',
    machine,
    config: {
      clients: cfg.writeClients,
      txPerClientPerVariantPerRound: cfg.writeTx,
      rounds: cfg.writeRounds,
      serializeKeys: true,
      statistic: 'median of rounds',
    },
    txPerSec: { none: round1(med.none), handWritten: round1(med.handWritten), herald: round1(med.herald) },
    rounds: { none: rates.none.map(round1), handWritten: rates.handWritten.map(round1), herald: rates.herald.map(round1) },
    ratios,
    perRoundRatios: { heraldVsPlain: perRound('herald', 'none'), heraldVsHandWritten: perRound('herald', 'handWritten') },
    goal: { heraldVsPlain: 0.85, met: ratios.heraldVsPlain >= 0.85 },
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.stdout.write(
    `\nWrite overhead: ${cfg.writeClients} connections x ${cfg.writeTx} tx per variant, median of ${cfg.writeRounds} rounds\n`,
  );
  process.stdout.write(
    table(
      ['variant', 'tx/s', 'vs (a)', 'rounds'],
      VARIANTS.map((v) => [
        VARIANT_LABEL[v],
        Math.round(med[v]),
        (med[v] / med.none).toFixed(3),
        rates[v].map((x) => Math.round(x)).join(' / '),
      ]),
    ) + '\n',
  );
  process.stdout.write(
    `herald/plain = ${ratios.heraldVsPlain.toFixed(3)} (goal >= 0.85: ${result.goal.met ? 'met' : 'NOT met'}), herald/hand-written = ${ratios.heraldVsHandWritten.toFixed(3)}\n\n`,
  );
}

// ------------------------------------------------------------------------------ 2. relay throughput

type RawMessage = { topic: string; key: string; value: string; headers: Map<string, string> };
type RawProducer = import('@platformatic/kafka').Producer<string, string, string, string>;

/** The message the raw client sends for a Herald event: the same key, value bytes and CloudEvents headers. */
function rawMessage(topic: string, e: HeraldEvent): RawMessage {
  const headers = new Map<string, string>([['content-type', 'application/json']]);
  const attrs = e as unknown as Record<string, unknown>;
  for (const name of ['specversion', 'id', 'source', 'type', 'time', 'subject', 'dataschema', 'partitionkey', 'traceparent']) {
    const v = attrs[name];
    if (typeof v === 'string') headers.set(`ce_${name}`, v);
  }
  return { topic, key: e.partitionkey, value: JSON.stringify(e.data), headers };
}

/** Where the relay's time goes: wraps its source and publisher and adds up the time of each call. */
interface Breakdown {
  readMs: number;
  publishMs: number;
  deleteMs: number;
  reads: number;
  publishes: number;
  deletes: number;
}

/** Runs `work` and hands its duration in ms to `record`, whether it resolves or rejects. */
async function timed<T>(work: () => Promise<T>, record: (ms: number) => void): Promise<T> {
  const t = performance.now();
  try {
    return await work();
  } finally {
    record(performance.now() - t);
  }
}

function timedSource(source: RelaySource, b: Breakdown): RelaySource {
  return {
    name: source.name,
    start: () => source.start(),
    next: (max) =>
      timed(
        () => source.next(max),
        (ms) => {
          b.readMs += ms;
          b.reads++;
        },
      ),
    // Not timed: it runs while the batch before is published, so its time is not the relay's.
    ...(source.readAhead ? { readAhead: source.readAhead.bind(source) } : {}),
    // The local lease check (no I/O) as in production; `fencing` is left out: the publisher is
    // idempotent without transactions (`transactions: false` below), like the raw producer it is
    // compared with. What transactions cost is kafka-transactions-bench's figure.
    checkLease: source.checkLease?.bind(source),
    waitForWork: (ms, signal) => source.waitForWork(ms, signal),
    delivered: (records: readonly RelayRecord[]) =>
      timed(
        () => source.delivered(records),
        (ms) => {
          b.deleteMs += ms;
          b.deletes++;
        },
      ),
    retryLater: (r, e, d) => source.retryLater(r, e, d),
    deadLetter: (r, e) => source.deadLetter(r, e),
    close: () => source.close(),
  };
}

function timedPublisher(publisher: Publisher, b: Breakdown): Publisher {
  return {
    name: publisher.name,
    prepare: (topics) => publisher.prepare(topics),
    publish: (batch: readonly OutgoingEvent[]) =>
      timed(
        () => publisher.publish(batch),
        (ms) => {
          b.publishMs += ms;
          b.publishes++;
        },
      ),
    close: () => publisher.close(),
  };
}

async function relayBench(cfg: Config, machine: Machine, admin: pg.Client): Promise<void> {
  const N = cfg.relayEvents;
  const schema = `herald_bench_relay_${suffix}`;
  const heraldTopic = `herald-bench-relay-${suffix}`;
  const rawTopic = `herald-bench-raw-${suffix}`;
  log(`relay throughput: schema ${schema}, topics ${heraldTopic} (herald) and ${rawTopic} (raw), 4 partitions each`);

  const kafka = await kafkaModule();
  const kadmin = await kafkaAdmin(cfg);
  cleanups.push({ what: 'close the kafka admin client', run: () => kadmin.close() });
  cleanups.push({ what: `delete topics ${heraldTopic}, ${rawTopic}`, run: () => kadmin.deleteTopics({ topics: [heraldTopic, rawTopic] }) });
  await kadmin.createTopics({ topics: [heraldTopic, rawTopic], partitions: 4, replicas: 1 }).catch((err: unknown) => {
    throw new BenchError(
      `cannot create the benchmark topics on ${cfg.kafka}: ${messageOf(err)}. Is the broker running? (npm run services)`,
    );
  });

  cleanups.push({ what: `drop schema ${schema}`, run: () => admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`) });
  await migratePostgres(cfg.pg, { schema });
  const contracts = orderContracts(heraldTopic);
  const outbox = new PostgresOutbox({ contracts, source: SOURCE, schema });

  // One publisher and one raw producer for all rounds, each connected (and its idempotent
  // producer id obtained) by one warm-up message before anything is timed.
  const publisher = new KafkaPublisher({ brokers: [cfg.kafka], clientId: 'herald-bench-relay', transactions: false });
  cleanups.push({ what: 'close the herald publisher', run: () => publisher.close() });
  await publisher.prepare([heraldTopic]);
  const producer: RawProducer = new kafka.Producer({
    clientId: 'herald-bench-raw',
    bootstrapBrokers: [cfg.kafka],
    idempotent: true,
    acks: kafka.ProduceAcks.ALL,
    timeout: 5_000,
    retries: 3,
    autocreateTopics: false,
    serializers: kafka.stringSerializers,
  });
  cleanups.push({ what: 'close the raw producer', run: () => producer.close() });
  const warm = outboxEvent();
  await withTimeout(
    publisher.publish([{ topic: heraldTopic, data: JSON.stringify(warm.data), event: warm }]),
    30_000,
    'herald warm-up publish',
  );
  await withTimeout(producer.send({ messages: [rawMessage(rawTopic, warm)] }), 30_000, 'raw warm-up send');

  const db = await pgConnect(cfg.pg);
  cleanups.push({ what: 'close the prefill connection', run: () => db.end() });

  /** Appends n events in chunks of 1000 (one transaction each); returns them as written. */
  async function prefill(n: number): Promise<HeraldEvent[]> {
    const events: HeraldEvent[] = [];
    const t0 = performance.now();
    for (let i = 0; i < n; i += 1000) {
      const inputs: AppendInput[] = Array.from({ length: Math.min(1000, n - i) }, () => ({
        contract: CONTRACT,
        data: payloadOf(relayOrder()),
      }));
      await db.query('BEGIN');
      events.push(...(await outbox.appendMany(db, inputs)));
      await db.query('COMMIT');
    }
    // Flush the prefill's WAL now rather than during the timed drain.
    await db.query('CHECKPOINT');
    log(`relay throughput: prefilled ${n} events in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    return events;
  }

  async function runHerald(n: number): Promise<{ secs: number; breakdown: Breakdown; cpu: CpuUse }> {
    const breakdown: Breakdown = { readMs: 0, publishMs: 0, deleteMs: 0, reads: 0, publishes: 0, deletes: 0 };
    const source = new PollingSource({ database: cfg.pg, schema, logger: stderrLogger });
    await source.start();
    const relay = new Relay({
      source: timedSource(source, breakdown),
      publisher: timedPublisher(publisher, breakdown),
      batchSize: cfg.relayBatch,
      logger: stderrLogger,
    });
    let failure: unknown;
    const meter = cpuMeter();
    const t0 = performance.now();
    const running = relay.run().catch((err: unknown) => {
      failure = err;
    });
    let last = 0;
    let lastProgress = performance.now();
    // relay.stats.delivered counts events after their DELETE returned, so it reaches N exactly
    // when the outbox is empty; polling it costs nothing, unlike a count(*) on the outbox.
    while (relay.stats.delivered < n && failure === undefined) {
      await new Promise((r) => setTimeout(r, 2));
      if (relay.stats.delivered !== last) {
        last = relay.stats.delivered;
        lastProgress = performance.now();
      } else if (performance.now() - lastProgress > 60_000) {
        failure = new BenchError(`the relay made no progress for 60 s (${last}/${n} delivered); is Kafka still up? (npm run services)`);
      }
    }
    const secs = (performance.now() - t0) / 1000;
    const cpu = meter.stop();
    await relay.stop();
    await running;
    await source.close();
    if (failure !== undefined) throw failure;
    const status = await postgresOutboxStatus(cfg.pg, { schema });
    if (status.pending !== 0)
      throw new BenchError(`relay reported ${relay.stats.delivered} delivered but ${status.pending} events are still pending`);
    // Autovacuum may be off (it is on the test machines): vacuum the drained outbox so that every
    // round starts from the same table, not from the previous rounds' dead rows.
    await db.query(`VACUUM ${schema}.outbox`);
    return { secs, breakdown, cpu };
  }

  async function runRaw(messages: RawMessage[]): Promise<{ secs: number; sendMs: number; cpu: CpuUse }> {
    const meter = cpuMeter();
    const t0 = performance.now();
    let sendMs = 0;
    for (let i = 0; i < messages.length; i += cfg.relayBatch) {
      const t = performance.now();
      await producer.send({ messages: messages.slice(i, i + cfg.relayBatch) });
      sendMs += performance.now() - t;
    }
    const secs = (performance.now() - t0) / 1000;
    return { secs, sendMs, cpu: meter.stop() };
  }

  // Untimed warm-up of both paths (JIT, plan caches, producer buffers, broker segments).
  const warmN = Math.min(N, 5000);
  const warmEvents = await prefill(warmN);
  await runRaw(warmEvents.map((e) => rawMessage(rawTopic, e)));
  await runHerald(warmN);
  log(`relay throughput: warmed up with ${warmN} events each`);

  const herald: { rate: number; breakdown: Breakdown; secs: number; cpu: CpuUse }[] = [];
  const raw: { rate: number; secs: number; sendMs: number; cpu: CpuUse }[] = [];
  for (let r = 0; r < cfg.relayRounds; r++) {
    const events = await prefill(N);
    const messages = events.map((e) => rawMessage(rawTopic, e));
    // Alternate which side goes first, so that drift on the machine does not favour one.
    const steps = [
      async () => {
        const h = await runHerald(N);
        herald.push({ rate: N / h.secs, breakdown: h.breakdown, secs: h.secs, cpu: h.cpu });
        log(
          `relay throughput: round ${r + 1}/${cfg.relayRounds} herald ${N} events in ${h.secs.toFixed(2)} s = ${Math.round(N / h.secs)} events/s`,
        );
      },
      async () => {
        const w = await runRaw(messages);
        raw.push({ rate: N / w.secs, secs: w.secs, sendMs: w.sendMs, cpu: w.cpu });
        log(
          `relay throughput: round ${r + 1}/${cfg.relayRounds} raw    ${N} events in ${w.secs.toFixed(2)} s = ${Math.round(N / w.secs)} events/s`,
        );
      },
    ];
    if (r % 2 === 1) steps.reverse();
    for (const step of steps) await step();
  }

  const heraldRate = median(herald.map((h) => h.rate));
  const rawRate = median(raw.map((w) => w.rate));
  const ratio = round3(heraldRate / rawRate);
  // Breakdown of the median herald round: time in each step of the relay loop. The steps overlap
  // (read ahead, DELETE during the next send), so their shares of the wall time may exceed 100%.
  const mid = [...herald].sort((a, b) => a.rate - b.rate)[Math.floor(herald.length / 2)]!;
  const wallMs = mid.secs * 1000;
  const b = mid.breakdown;
  const otherMs = Math.max(0, wallMs - b.readMs - b.publishMs - b.deleteMs);
  const midRaw = [...raw].sort((a, c) => a.rate - c.rate)[Math.floor(raw.length / 2)]!;
  const batches = Math.ceil(N / cfg.relayBatch);
  const result = {
    bench: 'relay-throughput',
    unit: 'events/s, PostgreSQL outbox -> Kafka (idempotent producer, acks=all)',
    machine,
    config: { events: N, batchSize: cfg.relayBatch, partitions: 4, rounds: cfg.relayRounds, statistic: 'median of rounds' },
    eventsPerSec: { herald: round1(heraldRate), raw: round1(rawRate) },
    rounds: { herald: herald.map((h) => round1(h.rate)), raw: raw.map((w) => round1(w.rate)) },
    ratio: { heraldVsRaw: ratio },
    perRoundRatios: { heraldVsRaw: herald.map((h, i) => round3(h.rate / raw[i]!.rate)) },
    goal: { heraldVsRaw: 0.85, met: ratio >= 0.85 },
    heraldBreakdownMedianRound: {
      wallMs: Math.round(wallMs),
      readSelectMs: Math.round(b.readMs),
      publishMs: Math.round(b.publishMs),
      deleteMs: Math.round(b.deleteMs),
      otherMs: Math.round(otherMs),
      reads: b.reads,
      publishes: b.publishes,
      deletes: b.deletes,
      msPerBatch: {
        read: round1(b.readMs / Math.max(1, b.reads)),
        publish: round1(b.publishMs / Math.max(1, b.publishes)),
        delete: round1(b.deleteMs / Math.max(1, b.deletes)),
      },
    },
    rawMedianRound: {
      wallMs: Math.round(midRaw.secs * 1000),
      sendMs: Math.round(midRaw.sendMs),
      msPerBatch: round1(midRaw.sendMs / batches),
    },
    // CPU seconds per part of the machine in the median rounds, and per 1,000 events: whether the
    // relay waits on its own code or on the cores it shares with PostgreSQL and the broker.
    cpuMedianRound: { herald: mid.cpu, raw: midRaw.cpu },
    cpuMsPer1000Events: { herald: perThousand(mid.cpu, N), raw: perThousand(midRaw.cpu, N) },
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.stdout.write(
    `\nRelay throughput: ${N} events, batches of ${cfg.relayBatch}, 4 partitions, acks=all idempotent, median of ${cfg.relayRounds} rounds\n`,
  );
  process.stdout.write(
    table(
      ['variant', 'events/s', 'vs raw', 'rounds'],
      [
        ['raw @platformatic/kafka Producer', Math.round(rawRate), '1.000', raw.map((w) => Math.round(w.rate)).join(' / ')],
        [
          'Herald Relay (PollingSource + KafkaPublisher)',
          Math.round(heraldRate),
          ratio.toFixed(3),
          herald.map((h) => Math.round(h.rate)).join(' / '),
        ],
      ],
    ) + '\n',
  );
  const pct = (ms: number): string => `${((100 * ms) / wallMs).toFixed(0)}%`;
  process.stdout.write(
    `herald/raw = ${ratio.toFixed(3)} (goal >= 0.85: ${result.goal.met ? 'met' : 'NOT met'}); herald time per batch: ` +
      `SELECT ${result.heraldBreakdownMedianRound.msPerBatch.read} ms (${pct(b.readMs)}), send ${result.heraldBreakdownMedianRound.msPerBatch.publish} ms (${pct(b.publishMs)}), ` +
      `DELETE ${result.heraldBreakdownMedianRound.msPerBatch.delete} ms (${pct(b.deleteMs)}), other ${pct(otherMs)}; raw send ${result.rawMedianRound.msPerBatch} ms per batch\n`,
  );
  const cpuLine = (c: Record<string, number>): string =>
    Object.entries(c)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
  process.stdout.write(
    `CPU ms per 1,000 events (median rounds): herald ${cpuLine(result.cpuMsPer1000Events.herald)}; raw ${cpuLine(result.cpuMsPer1000Events.raw)}\n\n`,
  );
}

/** A valid event (not written anywhere) used to warm up the producers. */
function outboxEvent(): HeraldEvent {
  const o = relayOrder();
  return {
    specversion: '1.0',
    id: randomUUID(),
    source: SOURCE,
    type: CONTRACT,
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    partitionkey: o.customerId,
    data: payloadOf(o),
  };
}

// ------------------------------------------------------------------------------ main

async function main(): Promise<void> {
  const cfg = readConfig();
  const admin = await pgConnect(cfg.pg);
  cleanups.push({ what: 'close the admin connection', run: () => admin.end() });
  // Check Kafka before the write part runs, so a missing broker is reported at once.
  if (cfg.only !== 'write') await checkKafka(cfg);
  const machine = await machineFacts(cfg, admin);
  log(`node ${machine.node}, ${machine.cpus} cpus (${machine.cpuModel}), PostgreSQL ${machine.postgres}, Kafka ${cfg.kafka}`);
  if (cfg.only !== 'relay') await writeBench(cfg, machine, admin);
  if (cfg.only !== 'write') await relayBench(cfg, machine, admin);
}

await runBench(main);
