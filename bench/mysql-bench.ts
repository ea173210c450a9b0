// The MySQL/MariaDB store's benchmarks (DESIGN.md §8), side by side in one process:
// 1. write overhead: the business transaction (1 order + 3 order lines, then the event) with
//    MysqlOutbox.append vs a hand-written INSERT into the same outbox table (and without any event);
// 2. polling drain: N events through Relay + MysqlPollingSource + KafkaPublisher (what `herald
//    relay --database mysql://...` runs) vs the raw @platformatic/kafka producer sending the same messages.
//
//   node --import tsx bench/mysql-bench.ts [--only write|relay] [--write-tx 500] ...
//
// stdout: one JSON line per part (starts with '{'), then a short table. Progress: stderr.
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import mysql from 'mysql2/promise';
import { KafkaPublisher } from '../src/brokers/kafka/publisher.js';
import { Relay, type AppendInput, type HeraldEvent } from '../src/index.js';
import { migrateMysql, mysqlOutboxStatus } from '../src/mysql/migrate.js';
import { MysqlOutbox } from '../src/mysql/outbox.js';
import { MysqlPollingSource } from '../src/mysql/polling-source.js';
import { redactUrl } from '../src/store/redact-url.js';
import {
  BenchError,
  checkKafka,
  cleanups,
  CONTRACT,
  kafkaAdmin,
  kafkaModule,
  log,
  makeOrder,
  median,
  messageOf,
  orderContracts,
  payloadOf,
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
  type Order,
  type Setting,
} from './common.js';

const SETTINGS = {
  kafka: SERVICE_SETTINGS.kafka,
  mysql: { env: 'BENCH_MYSQL', fallback: process.env.HERALD_TEST_MYSQL ?? 'mysql://root@127.0.0.1:3306/app', help: 'MySQL/MariaDB URL' },
  only: { env: 'BENCH_ONLY', fallback: 'all', help: 'which part to run: write, relay or all' },
  'write-clients': { env: 'BENCH_WRITE_CLIENTS', fallback: '4', help: 'concurrent connections writing business transactions' },
  'write-tx': { env: 'BENCH_WRITE_TX', fallback: '500', help: 'transactions per connection, per variant, per round' },
  'write-rounds': { env: 'BENCH_WRITE_ROUNDS', fallback: '3', help: 'rounds of the write variants (median is reported)' },
  'relay-events': { env: 'BENCH_RELAY_EVENTS', fallback: '20000', help: 'events drained per relay run' },
  'relay-batch': { env: 'BENCH_RELAY_BATCH', fallback: '1000', help: 'relay batchSize and raw producer batch size' },
  'relay-rounds': { env: 'BENCH_RELAY_ROUNDS', fallback: '3', help: 'rounds of herald relay vs raw producer (median is reported)' },
} satisfies Record<string, Setting>;

const { get, int } = readSettings(SETTINGS, 'bench/mysql-bench.ts');
const cfg = {
  mysql: get('mysql'),
  kafka: get('kafka').replace(/^kafka:\/\//, ''),
  only: get('only'),
  writeClients: int('write-clients'),
  writeTx: int('write-tx'),
  writeRounds: int('write-rounds'),
  relayEvents: int('relay-events'),
  relayBatch: int('relay-batch'),
  relayRounds: int('relay-rounds'),
};
const SCHEMA = `herald_bench_${suffix}`;

async function connect(): Promise<mysql.Connection> {
  const u = new URL(cfg.mysql);
  try {
    return await mysql.createConnection({
      host: u.hostname,
      port: Number(u.port || 3306),
      user: decodeURIComponent(u.username) || 'root',
      password: decodeURIComponent(u.password),
    });
  } catch (err) {
    throw new BenchError(`cannot connect to MySQL at ${redactUrl(cfg.mysql)}: ${messageOf(err)}`);
  }
}

// ------------------------------------------------------------------------------ 1. write overhead

type Variant = 'none' | 'handWritten' | 'herald';
const VARIANTS: readonly Variant[] = ['none', 'handWritten', 'herald'];

async function writeBench(admin: mysql.Connection, server: string): Promise<void> {
  await admin.query(`CREATE TABLE \`${SCHEMA}\`.orders (id CHAR(36) PRIMARY KEY, customer_id VARCHAR(64) NOT NULL,
    total DECIMAL(12,2) NOT NULL, currency CHAR(3) NOT NULL, placed_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)) ENGINE=InnoDB`);
  await admin.query(`CREATE TABLE \`${SCHEMA}\`.order_lines (order_id CHAR(36) NOT NULL, line INT NOT NULL, sku VARCHAR(64) NOT NULL,
    quantity INT NOT NULL, unit_price DECIMAL(12,2) NOT NULL, PRIMARY KEY (order_id, line),
    FOREIGN KEY (order_id) REFERENCES \`${SCHEMA}\`.orders(id)) ENGINE=InnoDB`);
  const contracts = orderContracts('bench.order-placed.v1');
  const contract = contracts.get(CONTRACT);
  const outbox = new MysqlOutbox({ contracts, source: SOURCE, schema: SCHEMA });
  // The hand-written variant writes the same columns of the same table, without validation or key lock.
  const handInsert = `INSERT INTO \`${SCHEMA}\`.outbox (event_id, topic, partition_key, type, source, subject, time, dataschema, traceparent, data)
    VALUES (?, ?, ?, ?, ?, NULL, ?, ?, NULL, ?)`;
  const emit: Record<Variant, (c: mysql.Connection, o: Order) => Promise<unknown>> = {
    none: async () => undefined,
    handWritten: (c, o) =>
      c.execute(handInsert, [
        randomUUID(),
        contract.topic,
        o.customerId,
        contract.eventType,
        SOURCE,
        new Date().toISOString(),
        contract.dataschema,
        JSON.stringify(payloadOf(o)),
      ]),
    herald: (c, o) => outbox.append(c, CONTRACT, payloadOf(o)),
  };
  const insertOrder = `INSERT INTO \`${SCHEMA}\`.orders (id, customer_id, total, currency) VALUES (?, ?, ?, ?)`;
  const insertLine = `INSERT INTO \`${SCHEMA}\`.order_lines (order_id, line, sku, quantity, unit_price) VALUES (?, ?, ?, ?, ?)`;
  async function placeOrder(c: mysql.Connection, o: Order, variant: Variant): Promise<void> {
    await c.beginTransaction();
    try {
      await c.execute(insertOrder, [o.id, o.customerId, totalOf(o), o.currency]);
      for (const [i, l] of o.lines.entries()) await c.execute(insertLine, [o.id, i + 1, l.sku, l.quantity, l.unitPrice]);
      await emit[variant](c, o);
      await c.commit();
    } catch (err) {
      await c.rollback().catch(() => undefined);
      throw err;
    }
  }
  const clients: mysql.Connection[] = [];
  cleanups.push({ what: 'close write connections', run: () => Promise.all(clients.map((c) => c.end())) });
  for (let i = 0; i < cfg.writeClients; i++) clients.push(await connect());
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
  async function reset(): Promise<void> {
    await admin.query(`DELETE FROM \`${SCHEMA}\`.order_lines`);
    await admin.query(`DELETE FROM \`${SCHEMA}\`.orders`);
    await admin.query(`DELETE FROM \`${SCHEMA}\`.outbox`);
  }
  log('write overhead: warming up');
  for (const v of VARIANTS) await run(v, Math.min(100, cfg.writeTx));
  const total = cfg.writeClients * cfg.writeTx;
  const rates: Record<Variant, number[]> = { none: [], handWritten: [], herald: [] };
  for (let r = 0; r < cfg.writeRounds; r++) {
    for (const v of VARIANTS.map((_, i) => VARIANTS[(i + r) % VARIANTS.length]!)) {
      await reset();
      const secs = await run(v, cfg.writeTx);
      rates[v].push(total / secs);
      log(`write overhead: round ${r + 1}/${cfg.writeRounds} ${v.padEnd(11)} ${Math.round(total / secs)} tx/s`);
    }
  }
  await reset();
  const med = { none: median(rates.none), handWritten: median(rates.handWritten), herald: median(rates.herald) };
  const ratio = round3(med.herald / med.handWritten);
  const result = {
    bench: 'mysql-write-overhead',
    unit: 'business transactions/s (1 order + 3 order_lines rows, the event, COMMIT)',
    server,
    node: process.version,
    cpus: os.availableParallelism(),
    config: { clients: cfg.writeClients, txPerClient: cfg.writeTx, rounds: cfg.writeRounds, statistic: 'median of rounds' },
    txPerSec: { none: round1(med.none), handWritten: round1(med.handWritten), herald: round1(med.herald) },
    rounds: { none: rates.none.map(round1), handWritten: rates.handWritten.map(round1), herald: rates.herald.map(round1) },
    ratios: {
      heraldVsHandWritten: ratio,
      heraldVsPlain: round3(med.herald / med.none),
      handWrittenVsPlain: round3(med.handWritten / med.none),
    },
    goal: { heraldVsHandWritten: 0.9, met: ratio >= 0.9 },
  };
  process.stdout.write(`${JSON.stringify(result)}\n\n`);
  process.stdout.write(
    table(
      ['variant', 'tx/s', 'vs hand-written', 'rounds'],
      VARIANTS.map((v) => [v, Math.round(med[v]), (med[v] / med.handWritten).toFixed(3), rates[v].map((x) => Math.round(x)).join(' / ')]),
    ) + `\nherald/hand-written = ${ratio.toFixed(3)} (goal >= 0.9: ${result.goal.met ? 'met' : 'NOT met'})\n\n`,
  );
}

// ------------------------------------------------------------------------------ 2. polling drain

type RawMessage = { topic: string; key: string; value: string; headers: Map<string, string> };

/** The message the raw client sends for a Herald event: the same key, value and CloudEvents headers. */
function rawMessage(topic: string, e: HeraldEvent): RawMessage {
  const headers = new Map<string, string>([['content-type', 'application/json']]);
  for (const [name, v] of Object.entries(e)) if (name !== 'data' && typeof v === 'string') headers.set(`ce_${name}`, v);
  return { topic, key: e.partitionkey, value: JSON.stringify(e.data), headers };
}

async function relayBench(db: mysql.Connection, server: string): Promise<void> {
  const N = cfg.relayEvents;
  const heraldTopic = `herald-bench-mysql-${suffix}`;
  const rawTopic = `herald-bench-mysql-raw-${suffix}`;
  const kafka = await kafkaModule();
  const kadmin = await kafkaAdmin(cfg);
  cleanups.push({ what: 'close the kafka admin client', run: () => kadmin.close() });
  cleanups.push({ what: 'delete the topics', run: () => kadmin.deleteTopics({ topics: [heraldTopic, rawTopic] }) });
  await kadmin.createTopics({ topics: [heraldTopic, rawTopic], partitions: 4, replicas: 1 });
  const outbox = new MysqlOutbox({ contracts: orderContracts(heraldTopic), source: SOURCE, schema: SCHEMA });
  const publisher = new KafkaPublisher({ brokers: [cfg.kafka], clientId: 'herald-bench-mysql', transactions: false });
  cleanups.push({ what: 'close the herald publisher', run: () => publisher.close() });
  await publisher.prepare([heraldTopic]);
  const producer = new kafka.Producer({
    clientId: 'herald-bench-mysql-raw',
    bootstrapBrokers: [cfg.kafka],
    idempotent: true,
    acks: kafka.ProduceAcks.ALL,
    timeout: 5_000,
    retries: 3,
    autocreateTopics: false,
    serializers: kafka.stringSerializers,
  });
  cleanups.push({ what: 'close the raw producer', run: () => producer.close() });

  async function prefill(n: number): Promise<HeraldEvent[]> {
    const events: HeraldEvent[] = [];
    for (let i = 0; i < n; i += 1000) {
      const inputs: AppendInput[] = Array.from({ length: Math.min(1000, n - i) }, () => ({
        contract: CONTRACT,
        data: payloadOf(relayOrder()),
      }));
      await db.beginTransaction();
      events.push(...(await outbox.appendMany(db, inputs)));
      await db.commit();
    }
    return events;
  }
  async function runHerald(n: number): Promise<number> {
    const source = new MysqlPollingSource({ database: cfg.mysql, schema: SCHEMA, logger: stderrLogger });
    await source.start();
    const relay = new Relay({ source, publisher, batchSize: cfg.relayBatch, logger: stderrLogger });
    let failure: unknown;
    const t0 = performance.now();
    const running = relay.run().catch((err: unknown) => (failure = err));
    while (relay.stats.delivered < n && failure === undefined) await new Promise((r) => setTimeout(r, 2));
    const secs = (performance.now() - t0) / 1000;
    await relay.stop();
    await running;
    await source.close();
    if (failure !== undefined) throw failure;
    const status = await mysqlOutboxStatus(cfg.mysql, { schema: SCHEMA });
    if (status.pending !== 0) throw new BenchError(`${status.pending} events are still pending after the drain`);
    return secs;
  }
  async function runRaw(messages: RawMessage[]): Promise<number> {
    const t0 = performance.now();
    for (let i = 0; i < messages.length; i += cfg.relayBatch) await producer.send({ messages: messages.slice(i, i + cfg.relayBatch) });
    return (performance.now() - t0) / 1000;
  }
  const warm = await prefill(Math.min(N, 3000));
  await withTimeout(runRaw(warm.map((e) => rawMessage(rawTopic, e))), 60_000, 'raw warm-up');
  await withTimeout(runHerald(warm.length), 60_000, 'herald warm-up');
  const herald: number[] = [];
  const raw: number[] = [];
  for (let r = 0; r < cfg.relayRounds; r++) {
    const events = await prefill(N);
    const messages = events.map((e) => rawMessage(rawTopic, e));
    const steps = [async () => herald.push(N / (await runHerald(N))), async () => raw.push(N / (await runRaw(messages)))];
    if (r % 2 === 1) steps.reverse();
    for (const step of steps) await step();
    log(
      `relay drain: round ${r + 1}/${cfg.relayRounds} herald ${Math.round(herald.at(-1)!)} events/s, raw ${Math.round(raw.at(-1)!)} events/s`,
    );
  }
  const h = median(herald);
  const w = median(raw);
  const ratio = round3(h / w);
  const result = {
    bench: 'mysql-relay-drain',
    unit: 'events/s, MySQL outbox -> Kafka (idempotent producer, acks=all)',
    server,
    config: { events: N, batchSize: cfg.relayBatch, partitions: 4, rounds: cfg.relayRounds, statistic: 'median of rounds' },
    eventsPerSec: { herald: round1(h), raw: round1(w) },
    rounds: { herald: herald.map(round1), raw: raw.map(round1) },
    ratio: { heraldVsRaw: ratio },
    goal: { heraldVsRaw: 0.6, met: ratio >= 0.6 },
  };
  process.stdout.write(`${JSON.stringify(result)}\n\n`);
  process.stdout.write(
    table(
      ['variant', 'events/s', 'vs raw', 'rounds'],
      [
        ['raw @platformatic/kafka Producer', Math.round(w), '1.000', raw.map(Math.round).join(' / ')],
        ['Herald Relay (MysqlPollingSource + KafkaPublisher)', Math.round(h), ratio.toFixed(3), herald.map(Math.round).join(' / ')],
      ],
    ) + `\nherald/raw = ${ratio.toFixed(3)} (goal >= 0.6: ${result.goal.met ? 'met' : 'NOT met'})\n\n`,
  );
}

async function main(): Promise<void> {
  const admin = await connect();
  cleanups.push({ what: 'close the admin connection', run: () => admin.end() });
  if (cfg.only !== 'write') await checkKafka(cfg);
  const [[v]] = (await admin.query('SELECT VERSION() AS v, @@innodb_flush_log_at_trx_commit AS flush')) as unknown as [
    [{ v: string; flush: number }],
  ];
  const server = `${v.v} (innodb_flush_log_at_trx_commit=${v.flush})`;
  log(`server ${server}, database ${SCHEMA}`);
  cleanups.push({ what: `drop database ${SCHEMA}`, run: () => admin.query(`DROP DATABASE IF EXISTS \`${SCHEMA}\``) });
  await migrateMysql(cfg.mysql, { schema: SCHEMA });
  if (cfg.only !== 'relay') await writeBench(admin, server);
  if (cfg.only !== 'write') await relayBench(admin, server);
}

await runBench(main);
