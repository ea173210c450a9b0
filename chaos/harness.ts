// Runs scenarios: brings up the private services and the fault proxies once, then gives each
// scenario run its own schema, topic and writers, waits for recovery after its fault, reads the
// topic back from the outside and judges the result.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { migratePostgres } from '../src/postgres/migrate.js';
import { check, type CheckResult, type DeliveredEvent } from './checker.js';
import { cleanUp } from './cleanup.js';
import { FaultProxy } from './fault-proxy.js';
import { createTopic, readTopic } from './read-topic.js';
import { RelayProcess } from './relay-process.js';
import { allowancesOf, type BrokerKind, type Scenario, type ScenarioContext, type SourceKind } from './scenario.js';
import { RabbitReader } from './rabbit-reader.js';
import { PrivateKafka } from './services/kafka.js';
import { PrivatePostgres } from './services/postgres.js';
import { judge, type Verdict } from './verdict.js';
import { WriterPool } from './writers.js';
import { freePort, sleep, suffix, waitUntil } from './util.js';

/** The private services and proxies every scenario of one run shares. */
export interface Environment {
  readonly pg: PrivatePostgres;
  readonly kafka: PrivateKafka;
  readonly pgProxy: FaultProxy;
  readonly kafkaProxy: FaultProxy;
  /** Between every relay and the machine's RabbitMQ ({@link RABBITMQ_URL}). */
  readonly rabbitProxy: FaultProxy;
  /** Directory of the relays' log files. */
  readonly logDir: string;
  /** Machine facts for latest.json. */
  readonly facts: MachineFacts;
  close(): Promise<void>;
}

/** The facts every result file carries, so numbers are read against the machine they came from. */
export interface MachineFacts {
  readonly node: string;
  readonly cpu: string;
  readonly cpus: number;
  readonly memoryGb: number;
  readonly postgres: string;
  readonly kafka: string;
  readonly date: string;
}

/** One row of the table (one scenario with one source). */
export interface RowResult {
  readonly scenario: string;
  readonly title: string;
  readonly source: SourceKind;
  readonly broker: string;
  readonly expected: string;
  readonly committed: number;
  readonly rolledBack: number;
  readonly uncertain: number;
  readonly messages: number;
  readonly lost: number;
  readonly duplicates: number;
  readonly reorders: number;
  readonly rolledBackDelivered: number;
  readonly unknown: number;
  /** Duplicates delivered after a later event of their key (a non-deduplicating consumer goes back in time). */
  readonly lateDuplicates: number;
  /** Longest commit-to-visible wait of a committed event, in seconds. */
  readonly maxDelayS: number;
  /** Seconds from the fault's end until the last committed event was visible. */
  readonly recoveryS: number | null;
  readonly verdict: Verdict['verdict'];
  readonly reason: string;
  readonly notes: readonly string[];
  readonly durationS: number;
  /** Examples of violations, for debugging (a few lost ids, reorders). */
  readonly examples: { lost: readonly string[]; reorders: CheckResult['reorders'] };
}

/** Options of {@link runScenario}. */
export interface RunOptions {
  /** Longest wait after the fault for every committed event to be readable. Default 45000. */
  readonly recoveryTimeoutMs?: number;
  /** Longest a scenario's `run` may take. Default 90000. */
  readonly scenarioTimeoutMs?: number;
  /** Progress lines (stderr by default). */
  readonly log?: (line: string) => void;
  /** The broker of this run; default kafka. */
  readonly broker?: BrokerKind;
}

/**
 * Starts the private PostgreSQL and Kafka and the two proxies. Everything is torn down by
 * `close()`, and also on exit or Ctrl-C (see cleanup.ts).
 */
export async function startEnvironment(logDir: string): Promise<Environment> {
  mkdirSync(logDir, { recursive: true });
  const pg = await PrivatePostgres.start();
  const pgProxy = await FaultProxy.start({ targetPort: pg.port, name: 'relay→postgres link' });
  // The broker advertises the proxy's port, so the proxy must own its port before the broker
  // starts; its target (the broker's proxied listener) is known only once the broker exists.
  const kafkaProxyPort = await freePort();
  let kafka: PrivateKafka;
  try {
    kafka = await PrivateKafka.start({ proxiedPort: kafkaProxyPort });
  } catch (err) {
    await pgProxy.close();
    await pg.stop();
    throw err;
  }
  const kafkaProxy = await FaultProxy.start({ targetPort: kafka.proxiedListenerPort, port: kafkaProxyPort, name: 'relay→kafka link' });
  // RabbitMQ is the machine's shared server (not private): each run has its own routing key and
  // its own exclusive queue, so runs never see each other's messages.
  const rabbitProxy = await FaultProxy.start({ targetPort: RABBITMQ_PORT, name: 'relay→rabbitmq link' });
  const cpu = os.cpus()[0]?.model ?? 'unknown';
  const facts: MachineFacts = {
    node: process.version,
    cpu,
    cpus: os.cpus().length,
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    postgres: pg.version,
    kafka: kafka.version,
    date: new Date().toISOString(),
  };
  return {
    pg,
    kafka,
    pgProxy,
    kafkaProxy,
    rabbitProxy,
    logDir,
    facts,
    close: async () => {
      await rabbitProxy.close();
      await kafkaProxy.close();
      await pgProxy.close();
      await kafka.stop();
      await pg.stop();
      await cleanUp();
    },
  };
}

/** The machine's RabbitMQ the rabbitmq rows publish to (through the proxy) and read from (directly). */
export const RABBITMQ_PORT = 5672;
export const RABBITMQ_URL = `amqp://guest:guest@127.0.0.1:${RABBITMQ_PORT}`;

/** Default flags of every relay: a short lease, so a killed polling relay's keys come back fast. */
const RELAY_DEFAULTS: Record<SourceKind, readonly string[]> = {
  polling: ['--lease', '5000', '--poll-interval', '1000'],
  logical: ['--heartbeat', '2000'],
};

/** Runs one scenario with one source; never throws for a scenario failure (the row says fail). */
export async function runScenario(env: Environment, scenario: Scenario, source: SourceKind, options: RunOptions = {}): Promise<RowResult> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const started = Date.now();
  const broker = options.broker ?? 'kafka';
  const id = suffix();
  const tag = broker === 'kafka' ? source : `${source}_${broker}`;
  const schema = `chaos_${scenario.name.replace(/[^a-z0-9]/g, '_')}_${tag}_${id}`.slice(0, 60);
  const topic = `chaos.${scenario.name}.${tag}.${id}`;
  const label = broker === 'kafka' ? source : `${source}, ${broker}`;
  const brokerProxy = broker === 'kafka' ? env.kafkaProxy : env.rabbitProxy;
  let rabbit: RabbitReader | undefined;
  // What an outside consumer has read of this run's topic so far.
  const readBack = (): Promise<DeliveredEvent[]> => (rabbit ? Promise.resolve(rabbit.read()) : readTopic(env.kafka.bootstrap, topic));
  const notes: string[] = [];
  const relays: RelayProcess[] = [];
  const note = (text: string): void => {
    notes.push(text);
    log(`  [${scenario.name}/${label}] ${text}`);
  };
  let faultEndedAtMs: number | undefined;
  let faultStartedAtMs: number | undefined;
  let writers: WriterPool | undefined;

  // Whatever a previous run left on the links (a fault cut short, stale connections) is gone.
  env.pgProxy.pass();
  env.kafkaProxy.pass();
  env.rabbitProxy.pass();

  let error: string | undefined;
  try {
    await migratePostgres(env.pg.url, { schema, ...(source === 'logical' ? { logical: {} } : {}) });
    // RabbitMQ keeps nothing for a queue bound later: the reader binds before any writer runs.
    if (broker === 'rabbitmq') rabbit = await RabbitReader.open(RABBITMQ_URL, topic);
    else await createTopic(env.kafka.bootstrap, topic);
    writers = new WriterPool(env.pg.url, schema, topic, scenario.workload);
    const pool = writers;
    const ctx: ScenarioContext = {
      source,
      broker,
      schema,
      topic,
      pg: env.pg,
      kafka: env.kafka,
      pgProxy: env.pgProxy,
      kafkaProxy: env.kafkaProxy,
      brokerProxy,
      startRelay: async (o = {}) => {
        const name = o.name ?? `relay-${String.fromCharCode(97 + relays.length)}`;
        const login = o.login ? `${o.login.user}:${encodeURIComponent(o.login.password)}` : 'postgres';
        const relay = RelayProcess.spawn({
          name,
          source,
          database: `postgres://${login}@127.0.0.1:${o.directDatabase ? env.pg.port : env.pgProxy.port}/postgres`,
          broker: broker === 'kafka' ? `kafka://127.0.0.1:${env.kafkaProxy.port}` : `amqp://guest:guest@127.0.0.1:${env.rabbitProxy.port}`,
          schema,
          args: [...RELAY_DEFAULTS[source], ...(o.args ?? [])],
          logFile: join(env.logDir, `${scenario.name}-${source}-${id}-${name}.log`),
          ...(o.env ? { env: o.env } : {}),
        });
        relays.push(relay);
        if (o.wait !== false) await relay.started();
        return relay;
      },
      committed: () => pool.ledger.committed.length,
      committedIds: () => pool.ledger.committed.map((e) => e.id),
      delivered: async () => new Set((await readBack()).map((m) => m.id)).size,
      waitForDelivered: (n, ms) => waitUntil(async () => (await ctx.delivered()) >= n, ms, 500),
      faultStarted: (what) => {
        faultStartedAtMs = Date.now();
        note(`fault: ${what}`);
      },
      faultEnded: async () => {
        if (faultEndedAtMs !== undefined) return;
        faultEndedAtMs = Date.now();
        if (faultStartedAtMs !== undefined) note(`fault ended after ${((faultEndedAtMs - faultStartedAtMs) / 1000).toFixed(1)} s`);
        await pool.stop();
      },
      note,
      sleep,
    };
    log(`▶ ${scenario.name} (${label}): schema ${schema}, topic ${topic}`);
    pool.start();
    await withTimeout(scenario.run(ctx), options.scenarioTimeoutMs ?? 90_000, `scenario ${scenario.name} (${source})`);
    await ctx.faultEnded();
  } catch (err) {
    error = (err as Error).message;
    note(`error: ${error.split('\n')[0]}`);
  } finally {
    env.pgProxy.pass();
    env.kafkaProxy.pass();
    env.rabbitProxy.pass();
    // The writers stop at the fault's end at the latest; after an error, here.
    await writers?.stop();
  }

  const ledger = writers?.ledger ?? { committed: [], rolledBack: [], uncertain: [], failedBeforeCommit: 0 };
  // Recovery: wait until every committed event is readable, or give up.
  const committedIds = new Set(ledger.committed.map((e) => e.id));
  if (error === undefined && env.kafka.running) {
    await waitUntil(
      async () => {
        const seen = new Set((await readBack()).map((m) => m.id));
        for (const id of committedIds) if (!seen.has(id)) return false;
        return true;
      },
      options.recoveryTimeoutMs ?? 45_000,
      1_000,
    );
  }
  // A short grace for the relays' last in-flight batches (late duplicates count too).
  await sleep(500);
  for (const r of relays) {
    const exitedEarly = !r.running && r.child.exitCode !== 0;
    if (exitedEarly && r.child.signalCode !== 'SIGKILL')
      note(`${r.name} exited by itself (${String(r.child.exitCode ?? r.child.signalCode)})`);
  }
  await Promise.all(relays.map((r) => r.stop()));
  if (!env.kafka.running) await env.kafka.start();
  const delivered = await readBack().catch((err: Error) => {
    note(`cannot read the topic back: ${err.message}`);
    return [];
  });
  await rabbit?.close();
  await dropSlot(env, source, schema);
  const result = check({
    committed: ledger.committed,
    rolledBack: ledger.rolledBack,
    uncertain: ledger.uncertain,
    delivered,
    ...(faultEndedAtMs === undefined ? {} : { faultEndedAtMs }),
  });
  if (result.lateDuplicates > 0) note(`${result.lateDuplicates} duplicate(s) arrived after a newer event of their key`);
  if (ledger.uncertain.length > 0) note(`${ledger.uncertain.length} event(s) with an unanswered COMMIT (neither lost nor wrong)`);
  const verdict = error
    ? { verdict: 'fail' as const, reason: `harness error: ${error.split('\n')[0]}` }
    : judge(result, allowancesOf(scenario, source, broker));
  const row: RowResult = {
    scenario: scenario.name,
    title: scenario.title,
    source,
    broker,
    expected: scenario.expected,
    committed: result.committed,
    rolledBack: result.rolledBack,
    uncertain: result.uncertain,
    messages: result.messages,
    lost: result.lost.length,
    duplicates: result.duplicates,
    reorders: result.reorders.length,
    rolledBackDelivered: result.rolledBackDelivered.length,
    unknown: result.unknown,
    lateDuplicates: result.lateDuplicates,
    maxDelayS: Math.round(result.maxDelayMs / 100) / 10,
    recoveryS: result.recoveryMs === undefined ? null : Math.round(result.recoveryMs / 100) / 10,
    verdict: verdict.verdict,
    reason: verdict.reason,
    notes,
    durationS: Math.round((Date.now() - started) / 100) / 10,
    examples: { lost: result.lost.slice(0, 5), reorders: result.reorders.slice(0, 5) },
  };
  log(
    `◀ ${scenario.name} (${label}): ${row.verdict}${row.reason ? ` (${row.reason})` : ''}; committed ${row.committed}, lost ${row.lost}, dup ${row.duplicates}, reorders ${row.reorders}, recovery ${row.recoveryS ?? '-'} s, ${row.durationS} s`,
  );
  return row;
}

/** A logical run's slot keeps WAL for as long as it exists: drop it once the run is checked. */
async function dropSlot(env: Environment, source: SourceKind, schema: string): Promise<void> {
  if (source !== 'logical') return;
  const slot = `${schema}_relay`;
  await waitUntil(
    async () => {
      const c = await env.pg.client();
      try {
        await c.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active', [slot]);
        return (await c.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [slot])).rowCount === 0;
      } finally {
        await c.end();
      }
    },
    15_000,
    500,
  );
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
    }),
  ]);
}
