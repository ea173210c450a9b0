import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

/** The PostgreSQL that `scripts/services.sh` makes sure runs (wal_level=logical). */
export const PG_URL = process.env.HERALD_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';
/** The KRaft broker that `scripts/services.sh` starts with fresh data each run. */
export const KAFKA = process.env.HERALD_TEST_KAFKA ?? '127.0.0.1:9092';

/** A schema or topic name no other test uses. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(4).toString('hex')}`;
}

/** A connected pg client; the caller ends it. */
export async function pgClient(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  return c;
}

/** A message as kcat (librdkafka, not Herald) reads it. */
export interface KcatMessage {
  topic: string;
  partition: number;
  offset: number;
  key: string;
  payload: string;
  headers: Record<string, string>;
}

/**
 * Waits, at most `ms`, until no transaction is being committed on `topic`: every partition's last
 * stable offset (how far a read_committed reader reads) has reached its log end. Kafka answers a
 * producer's EndTxn once the commit is decided in its transaction log and writes the commit
 * markers into the partitions a moment later, so a reader started right after a transactional
 * publish resolved could stop short of that batch (seen: 40 of 50 events, the rest a second
 * later). A transaction that stays open (a batch refused in part) ends the wait at `ms`.
 */
async function settleTransactions(topic: string, ms = 3_000): Promise<void> {
  const { Admin } = await import('@platformatic/kafka');
  const admin = new Admin({ clientId: 'herald-test', bootstrapBrokers: [KAFKA] });
  try {
    const partitions = (await admin.metadata({ topics: [topic] })).topics.get(topic)?.partitionsCount ?? 0;
    const topics = [{ name: topic, partitions: Array.from({ length: partitions }, (_, p) => ({ partitionIndex: p, timestamp: -1n })) }];
    const deadline = Date.now() + ms;
    for (;;) {
      // isolationLevel 0: the log end (high watermark); 1: the last stable offset.
      const [end, stable] = await Promise.all(([0, 1] as const).map((isolationLevel) => admin.listOffsets({ topics, isolationLevel })));
      const stableOf = new Map(stable![0]!.partitions.map((p) => [p.partitionIndex, p.offset]));
      const committing = end![0]!.partitions.some((p) => stableOf.get(p.partitionIndex)! < p.offset);
      if (!committing || Date.now() > deadline) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await admin.close();
  }
}

/**
 * Reads every message of `topic` from the beginning with kcat, a consumer that is not Herald
 * (librdkafka: read_committed), once no transaction is being committed on it (see
 * {@link settleTransactions}), and returns them in partition, then offset order.
 */
export async function readTopic(topic: string): Promise<KcatMessage[]> {
  await settleTransactions(topic);
  const { stdout } = await run('kcat', ['-b', KAFKA, '-C', '-t', topic, '-o', 'beginning', '-e', '-q', '-J'], {
    maxBuffer: 512 * 1024 * 1024,
  });
  return stdout
    .split('\n')
    .filter((l) => l.trim().length > 0)
    .map((l) => {
      const m = JSON.parse(l) as { topic: string; partition: number; offset: number; key: string; payload: string; headers?: string[] };
      const headers: Record<string, string> = {};
      for (let i = 0; i + 1 < (m.headers ?? []).length; i += 2) headers[m.headers![i]!] = m.headers![i + 1]!;
      return { topic: m.topic, partition: m.partition, offset: m.offset, key: m.key, payload: m.payload, headers };
    })
    .sort((a, b) => a.partition - b.partition || a.offset - b.offset);
}

/** Polls `check` until it returns true or `ms` pass; returns the last result. */
export async function waitFor(check: () => Promise<boolean>, ms: number, everyMs = 200): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Restarts the machine's PostgreSQL cluster (the one `scripts/services.sh` checks) and waits until it accepts connections. */
export async function restartPostgresCluster(): Promise<void> {
  const version = (await run('ls', ['/etc/postgresql'])).stdout.trim().split('\n')[0]!;
  await run('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'restart']);
  const ready = await waitFor(
    () =>
      run('pg_isready', ['-h', '127.0.0.1']).then(
        () => true,
        () => false,
      ),
    30_000,
  );
  if (!ready) throw new Error('PostgreSQL did not come back within 30 s after a restart');
}

/** Runs `scripts/services.sh <command>` (kafka-stop, kafka-start). */
export async function services(command: string): Promise<void> {
  await run('bash', ['scripts/services.sh', command], { maxBuffer: 16 * 1024 * 1024 });
}

/** The compiled CLI, built by the test command before the suite runs. */
export const CLI = 'dist/src/cli/main.js';

/** Runs the CLI to completion. */
export async function herald(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('node', [CLI, ...args], { env: { ...process.env, ...env }, timeout: 90_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** Starts `herald relay` as a separate process; its stderr is kept for assertions. */
export function startRelay(args: string[]): ChildProcess & { log: string[] } {
  return startHerald(['relay', ...args]);
}

/** Starts the CLI as a separate process (`herald <args>`); its output is kept in `log`. */
export function startHerald(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess & { log: string[] } {
  const child = spawn('node', [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } }) as ChildProcess & {
    log: string[];
  };
  child.log = [];
  child.stderr!.on('data', (d: Buffer) => child.log.push(d.toString()));
  child.stdout!.on('data', (d: Buffer) => child.log.push(d.toString()));
  return child;
}

/** Resolves with the exit code (or signal) of a child process. */
export function exited(child: ChildProcess): Promise<number | string> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  if (child.signalCode !== null) return Promise.resolve(child.signalCode);
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
}

/** Creates a topic with the raw client (4 partitions), optionally with topic configs. */
export async function createTopic(topic: string, configs: Record<string, string> = {}): Promise<void> {
  const { Admin } = await import('@platformatic/kafka');
  const admin = new Admin({ clientId: 'herald-test', bootstrapBrokers: [KAFKA] });
  try {
    await admin.createTopics({
      topics: [topic],
      partitions: 4,
      replicas: 1,
      configs: Object.entries(configs).map(([name, value]) => ({ name, value })),
    });
  } finally {
    await admin.close();
  }
}
