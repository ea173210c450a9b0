import { execFile, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migratePostgres, postgresOutboxStatus } from '../../src/postgres/migrate.js';
import { PostgresOutbox } from '../../src/postgres/outbox.js';
import type { LogicalSourceStats } from '../../src/postgres/logical-source.js';
import type { RelayStats } from '../../src/relay/relay.js';
import { firstSeqs, orderContracts, orderPlaced } from '../support/contracts.js';
import {
  KAFKA,
  PG_URL,
  createTopic,
  exited,
  herald,
  pgClient,
  readTopic,
  startRelay,
  uniqueName,
  waitFor,
  type KcatMessage,
} from '../support/services.js';

const run = promisify(execFile);

type Mode = 'table' | 'wal';
type Relay = ChildProcess & { log: string[] };

/** Stats the relay logs when it stops: the relay's counters and the logical source's. */
type StoppedStats = RelayStats & LogicalSourceStats;

/** What `herald status --json` prints (the parts these tests read). */
interface StatusJson {
  pending: number;
  slot?: {
    slot: string;
    exists: boolean;
    active: boolean;
    walStatus: string | null;
    lagBytes: number | null;
    lagSeconds: number | null;
    lastDeliverySeconds: number | null;
    safeWalBytes: number | null;
    parked: number;
  };
  warnings: string[];
}

const children: Relay[] = [];
// What each test created on the shared server; afterEach removes it. Slots above all: a slot
// nobody streams keeps WAL forever.
const slots: string[] = [];
const roles: string[] = [];
const schemas: string[] = [];
let db: pg.Client;

/**
 * A connected client; retries for a while, because another suite may be restarting the shared
 * PostgreSQL. Errors of a dropped idle connection are ignored (the query that follows fails).
 */
async function connect(): Promise<pg.Client> {
  let last: unknown;
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 500))) {
    try {
      const c = await pgClient();
      c.on('error', () => undefined);
      return c;
    } catch (err) {
      last = err;
    }
  }
  throw last;
}

/** Runs `fn` on a fresh connection until it succeeds (PostgreSQL may restart meanwhile) or 60 s pass. */
async function withRetries(fn: (c: pg.Client) => Promise<void>): Promise<void> {
  for (const deadline = Date.now() + 60_000; ; await new Promise((r) => setTimeout(r, 500))) {
    const c = await connect();
    try {
      await fn(c);
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    } finally {
      await c.end().catch(() => undefined);
    }
  }
}

beforeEach(async () => {
  db = await connect();
});

afterEach(async () => {
  await db.end().catch(() => undefined);
  const alive = children.splice(0);
  for (const c of alive) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await Promise.all(alive.map(exited));
  for (const slot of slots.splice(0)) {
    // The walsender of a killed relay notices the closed socket a moment later; until then the
    // slot is active and cannot be dropped.
    await withRetries(async (c) => {
      await c.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active', [slot]);
      if ((await c.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [slot])).rowCount !== 0) {
        throw new Error(`replication slot ${slot} is still active and was not dropped`);
      }
    });
  }
  for (const role of roles.splice(0)) {
    await withRetries(async (c) => {
      if ((await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).rowCount === 0) return;
      await c.query(`DROP OWNED BY "${role}"`);
      await c.query(`DROP ROLE "${role}"`);
    });
  }
  for (const schema of schemas.splice(0)) {
    await withRetries(async (c) => {
      await c.query(`DROP PUBLICATION IF EXISTS "${schema}_outbox"`);
      await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    });
  }
});

/** A schema with the outbox, its publication and its slot (`<schema>_relay`), and a topic of its own. */
async function setup(mode: Mode, options: { migrate?: boolean } = {}) {
  const schema = uniqueName('lgc');
  const topic = uniqueName('lgc.topic').replace('_', '.');
  const slot = `${schema}_relay`;
  schemas.push(schema);
  slots.push(slot);
  if (options.migrate !== false) await migratePostgres(PG_URL, { schema, logical: {} });
  await createTopic(topic);
  const outbox = new PostgresOutbox({ contracts: orderContracts(topic), source: '/logical-test', schema, mode });
  const relay = (extra: string[] = [], database = PG_URL): Relay => {
    const child = startRelay([
      '--source',
      'logical',
      '--database',
      database,
      '--schema',
      schema,
      '--kafka',
      `kafka://${KAFKA}`,
      '--json',
      ...extra,
    ]);
    children.push(child);
    return child;
  };
  const pending = async (): Promise<number> => (await postgresOutboxStatus(PG_URL, { schema })).pending;
  /** Distinct event ids in the topic, as kcat reads them. */
  const deliveredIds = async (): Promise<number> => new Set((await readTopic(topic)).map((m) => m.headers.ce_id)).size;
  /**
   * Events of `total` not yet delivered: the outbox table's backlog in table mode; in WAL mode there
   * is no table backlog, so what kcat does not find in the topic yet.
   */
  const undelivered = async (total: number): Promise<number> => (mode === 'table' ? await pending() : total - (await deliveredIds()));
  return { schema, topic, slot, outbox, relay, pending, deliveredIds, undelivered };
}

/** Messages in all partitions of `topic` (sum of the high watermarks), cheap enough to poll. */
async function topicSize(topic: string): Promise<number> {
  const { stdout } = await run('kcat', ['-b', KAFKA, '-Q', ...[0, 1, 2, 3].flatMap((p) => ['-t', `${topic}:${p}:-1`])]);
  return [...stdout.matchAll(/offset (-?\d+)/g)].reduce((sum, m) => sum + Math.max(0, Number(m[1])), 0);
}

/** Appends `seqs` rounds of one event per key, each round in its own transaction; returns the ids in write order. */
async function writeRounds(outbox: PostgresOutbox, keys: string[], seqs: number): Promise<string[]> {
  const ids: string[] = [];
  for (let seq = 0; seq < seqs; seq++) {
    await db.query('BEGIN');
    const events = await outbox.appendMany(
      db,
      keys.map((key) => ({ contract: 'orders.order-placed', data: orderPlaced(key, seq) })),
    );
    await db.query('COMMIT');
    ids.push(...events.map((e) => e.id));
  }
  return ids;
}

/** Asserts that, per key, the first delivery of each event follows the given sequence. */
function expectKeyOrder(messages: KcatMessage[], keys: string[], expected: number[]): void {
  for (const key of keys) expect(firstSeqs(messages, key), `order of key ${key}`).toEqual(expected);
}

/** The stats a relay logged when it stopped (JSON log line 'relay stopped'). */
function stoppedStats(child: Relay): StoppedStats | undefined {
  const line = child.log
    .join('')
    .split('\n')
    .find((l) => l.includes('"relay stopped"'));
  return line ? (JSON.parse(line) as StoppedStats) : undefined;
}

/** Peak resident memory of a live process in bytes (`VmHWM` of /proc/<pid>/status), 0 once it is gone. */
function peakRss(pid: number): number {
  try {
    const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return kb ? Number(kb[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

const MB = 1024 * 1024;

describe.each(['table', 'wal'] as const)('logical relay processes, %s mode', (mode) => {
  it('loses nothing and keeps per-key order when a relay is killed with SIGKILL mid-stream and restarted', async () => {
    const t = await setup(mode);
    const keys = Array.from({ length: 50 }, (_, k) => `crash-${k}`);
    // 10,000 events: at ~15,000 events/s the relay must not finish before the poll below sees it start.
    const ids = await writeRounds(t.outbox, keys, 200);
    expect(ids).toHaveLength(10_000);

    const first = t.relay(['--batch-size', '200']);
    // Kill it a few batches in (table mode: the outbox backlog shrinks; WAL mode: messages appear
    // in the topic), while it streams at full speed, so that a batch is likely in flight.
    const started =
      mode === 'table'
        ? await waitFor(async () => (await t.pending()) <= ids.length - 1000, 30_000, 5)
        : await waitFor(async () => (await topicSize(t.topic)) >= 1000, 30_000, 5);
    expect(started).toBe(true);
    first.kill('SIGKILL');
    expect(await exited(first)).toBe('SIGKILL');
    const left = await t.undelivered(ids.length);
    expect(left, 'the relay was killed before it delivered everything').toBeGreaterThan(0);

    const second = t.relay(['--batch-size', '200']);
    expect(await waitFor(async () => (await t.undelivered(ids.length)) === 0, 60_000, 300)).toBe(true);
    second.kill('SIGTERM');
    expect(await exited(second)).toBe(0);

    const messages = await readTopic(t.topic);
    expect(new Set(messages.map((m) => m.headers.ce_id))).toEqual(new Set(ids));
    const duplicates = messages.length - ids.length;
    console.info(`${mode} mode, SIGKILL mid-stream: ${ids.length} events, ${left} undelivered at the kill, ${duplicates} duplicates`);
    // Only what was published but not yet recorded when the relay died can arrive twice: the batch
    // in flight and the one whose recording overlaps it, two batches of 200 at most.
    expect(duplicates).toBeLessThanOrEqual(2 * 200);
    expectKeyOrder(
      messages,
      keys,
      Array.from({ length: 200 }, (_, i) => i),
    );
    if (mode === 'table') expect(await t.pending()).toBe(0);
  });

  it('replays nothing after a clean SIGTERM restart, even inside one large transaction', async () => {
    const t = await setup(mode);
    const keys = Array.from({ length: 100 }, (_, k) => `big-${k}`);
    const ids: string[] = [];
    await db.query('BEGIN');
    for (let chunk = 0; chunk < 10; chunk++) {
      const inputs = [];
      for (let seq = chunk * 5; seq < chunk * 5 + 5; seq++) {
        for (const key of keys) inputs.push({ contract: 'orders.order-placed', data: orderPlaced(key, seq) });
      }
      ids.push(...(await t.outbox.appendMany(db, inputs)).map((e) => e.id));
    }
    await db.query('COMMIT');
    expect(ids).toHaveLength(5000);

    const first = t.relay(['--batch-size', '100']);
    // Stop it well inside the transaction, a few batches in.
    const started =
      mode === 'table'
        ? await waitFor(async () => (await t.pending()) <= 5000 - 500, 30_000, 5)
        : await waitFor(async () => (await topicSize(t.topic)) >= 500, 30_000, 5);
    expect(started).toBe(true);
    first.kill('SIGTERM');
    expect(await exited(first)).toBe(0);
    const firstStats = stoppedStats(first);
    expect(firstStats).toBeDefined();
    const left = await t.undelivered(ids.length);
    expect(left, 'the first relay stopped before it delivered everything').toBeGreaterThan(0);
    expect(left).toBe(ids.length - firstStats!.delivered);

    const second = t.relay(['--batch-size', '100']);
    expect(await waitFor(async () => (await t.undelivered(ids.length)) === 0, 60_000, 300)).toBe(true);
    second.kill('SIGTERM');
    expect(await exited(second)).toBe(0);

    const messages = await readTopic(t.topic);
    const delivered = messages.map((m) => m.headers.ce_id);
    expect(delivered).toHaveLength(ids.length);
    expect(new Set(delivered)).toEqual(new Set(ids));
    expectKeyOrder(
      messages,
      keys,
      Array.from({ length: 50 }, (_, i) => i),
    );
    // The slot was not confirmed past the open transaction, so the server sent all of it again;
    // the second relay skipped exactly the part the first one had delivered and recorded.
    const secondStats = stoppedStats(second);
    console.info(
      `${mode} mode, SIGTERM inside one transaction: first relay delivered ${firstStats!.delivered}, second skipped ${secondStats?.replaySkipped} and delivered ${secondStats?.delivered}`,
    );
    expect(secondStats!.replaySkipped).toBeGreaterThan(0);
    expect(secondStats!.replaySkipped).toBe(firstStats!.delivered);
    expect(secondStats!.delivered).toBe(ids.length - firstStats!.delivered);
  });
});

describe('logical relay processes', () => {
  it('streams one transaction of 100,000 events of about 1 KB with bounded memory and per-key order', { timeout: 240_000 }, async () => {
    const t = await setup('table');
    const keys = Array.from({ length: 100 }, (_, k) => `huge-${k}`);
    // The contract is closed (no extra fields), so the payload grows by a second, long order line.
    const padding = { sku: `pad-${'x'.repeat(900)}`, quantity: 1, unitPrice: 1 };
    const total = 100_000;
    const written = Date.now();
    await db.query('BEGIN');
    for (let chunk = 0; chunk < total / 1000; chunk++) {
      const inputs = [];
      for (let seq = chunk * 10; seq < chunk * 10 + 10; seq++) {
        for (const key of keys) {
          const data = orderPlaced(key, seq);
          (data.lines as unknown[]).push(padding);
          inputs.push({ contract: 'orders.order-placed', data });
        }
      }
      await t.outbox.appendMany(db, inputs);
    }
    await db.query('COMMIT');
    const writeMs = Date.now() - written;

    const relay = t.relay(['--max-buffered', '2000', '--batch-size', '500']);
    const startedAt = Date.now();
    let peak = 0;
    const done = await waitFor(
      async () => {
        peak = Math.max(peak, peakRss(relay.pid!));
        return (await topicSize(t.topic)) >= total && (await t.pending()) === 0;
      },
      200_000,
      500,
    );
    peak = Math.max(peak, peakRss(relay.pid!));
    const relayMs = Date.now() - startedAt;
    expect(done).toBe(true);
    relay.kill('SIGTERM');
    expect(await exited(relay)).toBe(0);
    const stats = stoppedStats(relay);

    const messages = await readTopic(t.topic);
    expect(messages).toHaveLength(total);
    expect(new Set(messages.map((m) => m.headers.ce_id)).size).toBe(total);
    expect(messages[0]!.payload.length).toBeGreaterThan(1000);
    expectKeyOrder(
      messages,
      keys,
      Array.from({ length: total / keys.length }, (_, i) => i),
    );
    console.info(
      `100,000 events in one transaction: written in ${writeMs} ms, relayed in ${relayMs} ms, peak RSS ${(peak / MB).toFixed(0)} MB, maxBuffered ${stats?.maxBuffered}`,
    );
    // Reading from the server pauses at 2,000 buffered events; what was already read from the
    // socket chunk is still decoded, hence a little slack.
    expect(stats!.maxBuffered).toBeGreaterThan(0);
    expect(stats!.maxBuffered).toBeLessThanOrEqual(2000 + 1000);
    // Peak RSS ceiling. An idle logical relay (Node, pg, the Kafka client) peaks at ~96 MB. With
    // --max-buffered 2000 this run peaked at 181-206 MB (the rest is garbage of the 100 MB that
    // streamed through, awaiting GC, and the producer's buffers). The same run with the buffer
    // effectively unbounded (--max-buffered 200000: it buffered ~93,000 events) peaked at 442-457
    // MB: 100,000 × ~1.2 KB of payload held as strings, envelopes and entries. 300 MB sits between
    // the two with ~100 MB margin for GC timing on either side.
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThan(300 * MB);
  });

  it('migrate --source logical creates the publication and the slot, is idempotent, and its grants suffice for a least-privilege relay', async () => {
    const t = await setup('table', { migrate: false });
    const role = uniqueName('relay_role');
    const noReplication = uniqueName('relay_norepl');
    roles.push(role, noReplication);

    const args = ['migrate', '--source', 'logical', '--database', PG_URL, '--schema', t.schema];
    const first = await herald([...args, '--relay-role', role]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain(`created the outbox in schema '${t.schema}'`);
    expect(first.stdout).toContain(`created publication '${t.schema}_outbox'`);
    expect(first.stdout).toContain(`created replication slot '${t.slot}'`);
    expect(first.stdout).toContain(`CREATE ROLE "${role}" LOGIN REPLICATION;`);
    expect(first.stdout).toContain(`GRANT USAGE ON SCHEMA "${t.schema}" TO "${role}";`);
    const slotRow = await db.query('SELECT plugin, slot_type FROM pg_replication_slots WHERE slot_name = $1', [t.slot]);
    expect(slotRow.rows).toEqual([{ plugin: 'pgoutput', slot_type: 'logical' }]);
    const pub = await db.query('SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1', [`${t.schema}_outbox`]);
    expect(pub.rows).toEqual([{ schemaname: t.schema, tablename: 'outbox' }]);

    const second = await herald([...args, '--relay-role', role]);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain(`checked the outbox in schema '${t.schema}'`);
    expect(second.stdout).toContain(`checked publication '${t.schema}_outbox'`);
    expect(second.stdout).toContain(`checked replication slot '${t.slot}'`);
    expect(second.stdout).not.toContain('created');
    expect((await db.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [t.slot])).rowCount).toBe(1);

    // The least-privilege role, exactly as printed.
    const grants = (out: string): string[] =>
      out
        .split('\n')
        .filter((l) => /^(CREATE ROLE|GRANT) /.test(l))
        .map((l) => l.replace(/;$/, ''));
    const statements = grants(second.stdout);
    expect(statements[0]).toBe(`CREATE ROLE "${role}" LOGIN REPLICATION`);
    for (const s of statements) await db.query(s);

    const tableOutbox = t.outbox;
    const walOutbox = new PostgresOutbox({ contracts: orderContracts(t.topic), source: '/logical-test', schema: t.schema, mode: 'wal' });
    const ids: string[] = [];
    for (const outbox of [tableOutbox, walOutbox]) {
      await db.query('BEGIN');
      const events = await outbox.appendMany(
        db,
        Array.from({ length: 100 }, (_, i) => ({ contract: 'orders.order-placed', data: orderPlaced(`lp-${i % 10}`, i) })),
      );
      await db.query('COMMIT');
      ids.push(...events.map((e) => e.id));
    }
    const relay = t.relay(['--heartbeat', '300'], `postgres://${role}@127.0.0.1:5432/postgres`);
    expect(
      await waitFor(async () => (await t.pending()) === 0 && (await t.deliveredIds()) === ids.length, 30_000, 300),
      relay.log.join(''),
    ).toBe(true);
    // Idle now: the relay writes heartbeats into the WAL, which needs the printed EXECUTE grant.
    await new Promise((r) => setTimeout(r, 1500));
    relay.kill('SIGTERM');
    expect(await exited(relay)).toBe(0);
    expect(relay.log.join('')).not.toContain('"level":"error"');
    expect(relay.log.join('')).not.toContain('cannot write a heartbeat');
    expect(stoppedStats(relay)?.heartbeats).toBeGreaterThan(0);
    const messages = await readTopic(t.topic);
    expect(messages.map((m) => m.headers.ce_id).sort()).toEqual([...ids].sort());
    const activeAs = await db.query(
      `SELECT 1 FROM pg_stat_activity WHERE usename = $1 AND backend_type = 'walsender' AND application_name LIKE 'herald%'`,
      [role],
    );
    expect(activeAs.rowCount).toBe(0);

    // The same grants without the REPLICATION attribute: the relay stops with an error that names it.
    const third = await herald([...args, '--relay-role', noReplication]);
    expect(third.code, third.stderr).toBe(0);
    for (const s of grants(third.stdout)) await db.query(s.replace(' LOGIN REPLICATION', ' LOGIN'));
    expect((await db.query('SELECT rolreplication FROM pg_roles WHERE rolname = $1', [noReplication])).rows).toEqual([
      { rolreplication: false },
    ]);
    const refused = t.relay([], `postgres://${noReplication}@127.0.0.1:5432/postgres`);
    const code = await Promise.race([exited(refused), new Promise((r) => setTimeout(() => r('still running'), 30_000))]);
    expect(code, refused.log.join('')).not.toBe(0);
    expect(code).not.toBe('still running');
    const refusal = refused.log
      .join('')
      .split('\n')
      .find((l) => l.startsWith('herald: '));
    console.info(`relay role without REPLICATION: exit ${String(code)}, ${refusal}`);
    expect(refusal).toMatch(/REPLICATION/);
  });

  it('status shows the slot with its lag and warns on stderr when a stopped relay leaves events waiting past --max-lag', async () => {
    const t = await setup('table');
    const ids = await writeRounds(t.outbox, ['st-0', 'st-1', 'st-2', 'st-3'], 25);
    const args = ['status', '--database', PG_URL, '--schema', t.schema, '--json'];

    // A warning makes status exit 1 (--exit-zero keeps 0), so it can gate a check.
    const idle = await herald([...args, '--max-lag', '1']);
    expect(idle.code, idle.stderr).toBe(1);
    expect((await herald([...args, '--max-lag', '1', '--exit-zero'])).code).toBe(0);
    const before = JSON.parse(idle.stdout) as StatusJson;
    expect(before.pending).toBe(100);
    expect(before.slot).toMatchObject({ slot: t.slot, active: false });
    expect(typeof before.slot!.lagBytes).toBe('number');
    expect(before.slot!.lagBytes).toBeGreaterThan(1);
    expect(before.warnings).toHaveLength(1);
    expect(before.warnings[0]).toContain(`slot ${t.slot}`);
    expect(before.warnings[0]).toContain('no relay is streaming it');
    expect(idle.stderr).toContain(`herald: warning: slot ${t.slot} keeps`);

    // Under the default threshold the same lag is no warning.
    const quiet = await herald(args);
    expect(quiet.code, quiet.stderr).toBe(0);
    expect((JSON.parse(quiet.stdout) as StatusJson).warnings).toEqual([]);
    expect(quiet.stderr).not.toContain('warning');

    const relay = t.relay(['--heartbeat', '300']);
    expect(await waitFor(async () => (await t.pending()) === 0, 30_000, 200)).toBe(true);
    let streaming: StatusJson | undefined;
    // Once idle, keepalives and heartbeats move the slot to the end of the WAL.
    const caughtUp = await waitFor(
      async () => {
        const out = await herald(args);
        streaming = JSON.parse(out.stdout) as StatusJson;
        return streaming.slot?.active === true && streaming.slot.lagBytes !== null && streaming.slot.lagBytes < before.slot!.lagBytes!;
      },
      20_000,
      500,
    );
    expect(caughtUp, JSON.stringify(streaming)).toBe(true);
    expect(streaming!.pending).toBe(0);
    expect(typeof streaming!.slot!.lagBytes).toBe('number');
    expect(typeof streaming!.slot!.lastDeliverySeconds).toBe('number');
    relay.kill('SIGTERM');
    expect(await exited(relay)).toBe(0);
    expect(new Set((await readTopic(t.topic)).map((m) => m.headers.ce_id))).toEqual(new Set(ids));
  });
});
