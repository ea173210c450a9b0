// Write overhead per store × data layer (issues 12 and 14): the business transaction (1 order +
// 3 lines) with Herald's append, against the same transaction with a hand-written INSERT into the
// same outbox table, through the same data layer and connection, in the same run (goal ≥ 0.95).
// A third variant, the hand-written INSERT with the store's per-key ordering lock taken the way
// Herald takes it, splits the gap into the ordering lock's cost and the rest of Herald's (JSON
// Schema validation, building the event, the driver glue). PostgreSQL runs once with the outbox's
// NOTIFY trigger and once without (`herald migrate --no-notify`); the trigger fires for every
// INSERT into the table, so it weighs on the hand-written variants too. Variants rotate round by
// round and the median ratio is reported.
//
//   node --import tsx bench/stores-bench.ts [--only postgres|mysql|sqlite] [--layers pg,mysql2]
//        [--notify on|off|both] [--tx 400] [--rounds 5] [--clients 4]
//
// stdout: one JSON line per store × layer, then a table. Progress: stderr. The data layers are the
// conformance suite's (test/stores/layers), so the bench measures exactly what the suite proves.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { storeFor } from '../src/store/store-url.js';
import { migratePostgres } from '../src/postgres/migrate.js';
import { executorFor } from '../src/store/executor-for.js';
import type { SqlDialect } from '../src/store/sql-executor.js';
import { isBetterSqlite3 } from '../src/data-layers/better-sqlite3.js';
import { drizzleBetterSqlite3Client } from '../src/data-layers/drizzle.js';
import { log, makeOrder, median, orderContracts, payloadOf, round3, runBench, table, totalOf, CONTRACT, SOURCE } from './common.js';
import { storeTargets, type BenchStore } from './store-targets.js';

const { values: flags } = parseArgs({
  options: {
    only: { type: 'string' },
    tx: { type: 'string', default: '400' },
    rounds: { type: 'string', default: '5' },
    clients: { type: 'string', default: '4' },
    layers: { type: 'string' },
    notify: { type: 'string', default: 'both' },
  },
});
/** Data layers to run (by the start of their name, e.g. `pg`, `mysql2`, `better-sqlite3`); default all. */
const LAYERS = flags.layers?.split(',').map((l) => l.trim());
const GOAL = 0.95;
if (!['on', 'off', 'both'].includes(flags.notify!)) throw new Error(`--notify must be on, off or both, got '${flags.notify}'`);
const TX = Number(flags.tx);
const ROUNDS = Number(flags.rounds);

/** Placeholders of `n` parameters from `start` in the dialect. */
function marks(dialect: SqlDialect, n: number, start = 1): string {
  return Array.from({ length: n }, (_, i) => (dialect === 'postgres' ? `$${start + i}` : '?')).join(', ');
}

/** The hand-written outbox row of an order: the same columns Herald fills, without validation. */
function handWrittenParams(o: ReturnType<typeof makeOrder>): unknown[] {
  return [
    randomUUID(),
    'bench.orders',
    o.customerId,
    'com.example.orders.order-placed',
    SOURCE,
    new Date().toISOString(),
    null,
    JSON.stringify(payloadOf(o)),
  ];
}

/**
 * The better-sqlite3 connection of a synchronous layer's transaction (the Database itself, or
 * under Drizzle's tx), with each statement text prepared once, as a service would.
 */
function sqliteOf(tx: unknown): { prepare(sql: string): { run(...params: unknown[]): unknown } } {
  const db = isBetterSqlite3(tx) ? tx : drizzleBetterSqlite3Client(tx);
  if (db === undefined) throw new Error('a synchronous layer must hand out a better-sqlite3 transaction');
  let cache = prepared.get(db);
  if (cache === undefined) prepared.set(db, (cache = new Map()));
  const statements = cache;
  return {
    prepare(sql) {
      let s = statements.get(sql);
      if (s === undefined) statements.set(sql, (s = db.prepare(sql)));
      return s;
    },
  };
}
const prepared = new WeakMap<object, Map<string, { run(...params: unknown[]): unknown }>>();

/** The business transaction's outbox write: Herald's append, or a hand-written INSERT with or without the key lock. */
type Variant = 'handWritten' | 'handWrittenOrdered' | 'herald';

async function benchStore(target: BenchStore): Promise<Record<string, unknown>[]> {
  const { url, options } = await target.fresh();
  const store = await storeFor(url, options);
  await store.migrate();
  const writer = store.writer({ contracts: orderContracts('bench.orders'), source: SOURCE });
  const d = target.dialect;
  const insertOrder = `INSERT INTO bench_orders (id, customer_id, total, currency) VALUES (${marks(d, 4)})`;
  const insertLine = `INSERT INTO bench_order_lines (order_id, line, sku, quantity, unit_price) VALUES (${marks(d, 5)})`;
  const handWritten = `INSERT INTO ${target.outboxTable(options)} (event_id, topic, partition_key, type, source, time, dataschema, data) VALUES (${marks(d, 8)})`;
  const ordered = target.orderedInsert?.(options);
  const orderedParams = (o: ReturnType<typeof makeOrder>): unknown[] => {
    const lock = target.orderedLockParam?.(o.customerId);
    return [...handWrittenParams(o), ...(lock === undefined ? [] : [lock])];
  };
  const variants: Variant[] = ordered === undefined ? ['handWritten', 'herald'] : ['handWritten', 'handWrittenOrdered', 'herald'];
  const results: Record<string, unknown>[] = [];
  const facts = (await target.facts?.(url)) ?? {};
  const layers = target.layers.filter((l) => LAYERS === undefined || LAYERS.some((name) => l.name.startsWith(name)));
  const modes = (target.notifyModes ?? [undefined]).filter(
    (m) => m === undefined || flags.notify === 'both' || (flags.notify === 'on') === m,
  );
  for (const notify of modes) {
    // The trigger is dropped or created by the migrate a user would run (`--no-notify` / `--notify`).
    if (notify !== undefined) await migratePostgres(url, { ...options, notify });
    for (const layer of layers) {
      const setup = await layer.open(url);
      if (layer.sync) {
        setup.transactionSync!((tx) => {
          for (const ddl of target.businessDdl) sqliteOf(tx).prepare(ddl).run();
        });
      } else {
        await setup.transaction(async (tx) => {
          const ex = executorFor(tx, d);
          for (const ddl of target.businessDdl) await ex.query(ddl, []);
        });
      }
      await setup.close();
      const tx = TX * (target.txScale ?? 1);
      const clients = await Promise.all(Array.from({ length: target.clients ?? Number(flags.clients) }, () => layer.open(url)));
      const run = async (variant: Variant): Promise<number> => {
        const t0 = performance.now();
        await Promise.all(
          clients.map(async (c) => {
            for (let i = 0; i < tx; i++) {
              const o = makeOrder();
              if (layer.sync) {
                // Synchronous transactions (better-sqlite3, Drizzle on it): prepared statements and appendSync.
                c.transactionSync!((tx) => {
                  const db = sqliteOf(tx);
                  db.prepare(insertOrder).run(o.id, o.customerId, totalOf(o), o.currency);
                  for (const [n, l] of o.lines.entries()) db.prepare(insertLine).run(o.id, n, l.sku, l.quantity, l.unitPrice);
                  if (variant === 'herald') writer.appendManySync!(tx, [{ contract: CONTRACT, data: payloadOf(o) }]);
                  else if (variant === 'handWrittenOrdered') db.prepare(ordered!).run(...orderedParams(o));
                  else db.prepare(handWritten).run(...handWrittenParams(o));
                });
                continue;
              }
              await c.transaction(async (tx) => {
                const ex = executorFor(tx, d);
                await ex.query(insertOrder, [o.id, o.customerId, totalOf(o), o.currency]);
                for (const [n, l] of o.lines.entries()) await ex.query(insertLine, [o.id, n, l.sku, l.quantity, l.unitPrice]);
                if (variant === 'herald') await writer.append(tx, CONTRACT, payloadOf(o));
                else if (variant === 'handWrittenOrdered') await ex.query(ordered!, orderedParams(o));
                else await ex.query(handWritten, handWrittenParams(o));
              });
            }
          }),
        );
        return (clients.length * tx) / ((performance.now() - t0) / 1000);
      };
      const rates: Record<Variant, number[]> = { handWritten: [], handWrittenOrdered: [], herald: [] };
      const ratios: number[] = [];
      const orderingRatios: number[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        // Rotate which goes first, so warm-up and drift do not favour one side.
        const order = variants.map((_, i) => variants[(i + r) % variants.length]!);
        const rate: Partial<Record<Variant, number>> = {};
        for (const v of order) rate[v] = await run(v);
        for (const v of variants) rates[v].push(rate[v]!);
        ratios.push(rate.herald! / rate.handWritten!);
        if (rate.handWrittenOrdered !== undefined) orderingRatios.push(rate.handWrittenOrdered / rate.handWritten!);
        log(
          `${target.name}${notify === undefined ? '' : notify ? ' (NOTIFY)' : ' (no NOTIFY)'} × ${layer.name} round ${r + 1}: ` +
            variants.map((v) => `${v} ${rate[v]!.toFixed(0)} tx/s`).join(', '),
        );
      }
      await Promise.all(clients.map((c) => c.close()));
      results.push({
        bench: 'store-write',
        store: target.name,
        ...(notify === undefined ? {} : { notifyTrigger: notify }),
        layer: layer.name,
        clients: clients.length,
        txPerRound: clients.length * tx,
        rounds: ROUNDS,
        handWrittenTxPerSec: Math.round(median(rates.handWritten)),
        ...(ordered === undefined ? {} : { handWrittenOrderedTxPerSec: Math.round(median(rates.handWrittenOrdered)) }),
        heraldTxPerSec: Math.round(median(rates.herald)),
        ratio: round3(median(ratios)),
        // What the per-key ordering lock alone costs a hand-written INSERT (1 = nothing).
        ...(ordered === undefined ? {} : { orderingLockRatio: round3(median(orderingRatios)) }),
        perRoundRatios: ratios.map(round3),
        goal: GOAL,
        ...facts,
      });
    }
  }
  await target.drop?.(url, options);
  return results;
}

await runBench(async () => {
  const rows: Record<string, unknown>[] = [];
  for (const target of storeTargets.filter((t) => flags.only === undefined || t.name === flags.only)) {
    for (const r of await benchStore(target)) {
      console.log(JSON.stringify(r));
      rows.push(r);
    }
  }
  console.log(
    table(
      ['store', 'NOTIFY', 'data layer', 'hand-written tx/s', '+ key lock tx/s', 'Herald tx/s', 'ratio', 'key lock ratio'],
      rows.map((r) => [
        String(r.store),
        r.notifyTrigger === undefined ? '-' : r.notifyTrigger ? 'on' : 'off',
        String(r.layer),
        Number(r.handWrittenTxPerSec),
        r.handWrittenOrderedTxPerSec === undefined ? '-' : Number(r.handWrittenOrderedTxPerSec),
        Number(r.heraldTxPerSec),
        Number(r.ratio),
        r.orderingLockRatio === undefined ? '-' : Number(r.orderingLockRatio),
      ]),
    ),
  );
});
