import type { ChildProcess } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { OutgoingEvent, Publisher } from '../../src/brokers/publisher.js';
import { ErrorCodes, isHeraldError } from '../../src/errors.js';
import { Relay } from '../../src/relay/relay.js';
import type { OutboxStore, OutboxWriter, StoreOptions } from '../../src/store/port.js';
import { storeFor } from '../../src/store/store-url.js';
import type { AppendInput } from '../../src/store/outbox-rows.js';
import type { HeraldEvent } from '../../src/event.js';
import { firstSeqs, orderContracts, orderPlaced } from '../support/contracts.js';
import { KAFKA, createTopic, exited, readTopic, startRelay, uniqueName, waitFor } from '../support/services.js';

/** A data layer's way into a store: open handles, run a transaction, and the handle it must refuse. */
export interface LayerTarget {
  readonly name: string;
  /** Opens a handle on `url`; `transaction` commits when `fn` resolves and rolls back when it throws. */
  open(url: string): Promise<LayerHandle>;
  /** What the TRANSACTION_REQUIRED message must say to pass, for the refused handle. */
  readonly refusalHint: RegExp;
  /**
   * The layer's transactions are synchronous (better-sqlite3's `db.transaction(fn)`, Drizzle on
   * better-sqlite3): the writer tests go through `transactionSync` and the store's `appendManySync`.
   */
  readonly sync?: boolean;
}

/** One open data-layer handle. */
export interface LayerHandle {
  transaction<T>(fn: (tx: unknown) => Promise<T>): Promise<T>;
  /** For a `sync` layer: runs `fn` in a transaction that commits when it returns and rolls back when it throws. */
  transactionSync?<T>(fn: (tx: unknown) => T): T;
  /** A handle of this layer that is not inside a transaction (a pool, a root client). */
  readonly notATransaction: unknown;
  close(): Promise<void>;
}

/** A store under test: fresh, isolated outboxes on its real database. */
export interface StoreTarget {
  readonly name: string;
  /** A fresh outbox location (own schema / database / file) for one test. */
  fresh(): Promise<{ readonly url: string; readonly options: StoreOptions }>;
  /** A URL with the password `conformance-secret` to a server that does not answer. */
  readonly unreachableUrl: string;
  /** The data layers every test runs through. */
  readonly layers: readonly LayerTarget[];
  /**
   * Whether writers on separate handles may hold transactions open at once. SQLite has one
   * writer per file and better-sqlite3 waits synchronously, so its writers take turns.
   */
  readonly concurrentWriters: boolean;
}

const CONTRACT = 'orders.order-placed';

/** A publisher that refuses everything as not retryable, to produce dead letters. */
function refusingPublisher(): Publisher {
  return {
    name: 'refusing',
    prepare: async () => undefined,
    publish: async () => {
      throw Object.assign(new Error('refused by the conformance suite'), { retryable: false });
    },
    close: async () => undefined,
  };
}

/** A publisher that keeps what it got, in order. */
function collectingPublisher(): Publisher & { readonly got: OutgoingEvent[] } {
  const got: OutgoingEvent[] = [];
  return {
    name: 'collecting',
    got,
    prepare: async () => undefined,
    publish: async (b) => void got.push(...b),
    close: async () => undefined,
  };
}

/** Runs a relay in this process until `done()` holds (or 30 s pass), then stops it. */
async function relayUntil(store: OutboxStore, publisher: Publisher, done: () => Promise<boolean>): Promise<Relay> {
  const source = store.pollingSource({ leaseMs: 3000 });
  await source.start();
  const relay = new Relay({ source, publisher, maxAttempts: 1, pollIntervalMs: 50, retryBaseMs: 10 });
  const running = relay.run();
  const ok = await waitFor(done, 30_000, 50);
  await relay.stop();
  await running;
  await source.close();
  expect(ok).toBe(true);
  return relay;
}

async function errorOf(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

/**
 * The store conformance suite: every store × data layer passes the same tests against its real
 * database. In-process tests cover the write side per data layer; the process tests (4 relay
 * processes, 8 writers, SIGKILL) run once per store, with its first data layer.
 */
export function storeConformance(target: StoreTarget): void {
  describe(`store conformance: ${target.name}`, () => {
    it('refuses an identifier from config that is not a plain name, before connecting', async () => {
      const { url } = await target.fresh();
      const err = await errorOf(storeFor(url, { schema: 'orders; DROP TABLE x' }));
      expect(isHeraldError(err, ErrorCodes.CONFIG_INVALID)).toBe(true);
      expect(err.message).toContain("option 'schema'");
    });

    it('never prints the password of a URL it cannot reach', async () => {
      const store = await storeFor(target.unreachableUrl);
      const err = await errorOf(store.migrate());
      expect(isHeraldError(err)).toBe(true);
      expect(`${err.message} ${JSON.stringify(err)} ${String((err as { cause?: unknown }).cause)}`).not.toContain('conformance-secret');
    });

    it('migrates idempotently and reports an empty outbox', async () => {
      const { url, options } = await target.fresh();
      const store = await storeFor(url, options);
      expect((await store.migrate()).created).toBe(true);
      expect((await store.migrate()).created).toBe(false);
      const status = await store.status();
      expect([status.pending, status.deadLettered]).toEqual([0, 0]);
    });

    for (const layer of target.layers) writerConformance(target, layer);

    it('dead-letters a refused event, lists it, requeues it with its id, and delivers it', async () => {
      const { url, options } = await target.fresh();
      const store = await storeFor(url, options);
      await store.migrate();
      const handle = await target.layers[0]!.open(url);
      const writer = store.writer({ contracts: orderContracts(), source: '/conformance' });
      const [e] = await handle.transaction((tx) => writer.appendMany(tx, [{ contract: CONTRACT, data: orderPlaced('dead-1') }]));
      await handle.close();
      await relayUntil(store, refusingPublisher(), async () => (await store.status()).deadLettered === 1);
      const letters = await store.deadLetters();
      expect(letters.map((l) => [l.eventId, l.partitionKey, l.attempts])).toEqual([[e!.id, 'dead-1', 1]]);
      expect(letters[0]!.lastError).toContain('refused by the conformance suite');
      expect((await store.status()).topics.map((t) => [t.topic, t.pending, t.deadLettered])).toEqual([['orders.order-placed.v1', 0, 1]]);
      expect(await store.requeue()).toBe(1);
      expect((await store.status()).pending).toBe(1);
      const publisher = collectingPublisher();
      await relayUntil(store, publisher, async () => publisher.got.length === 1);
      expect(publisher.got[0]!.event.id).toBe(e!.id);
      expect(await store.deadLetters()).toEqual([]);
    });

    relayProcessConformance(target);
  });
}

/** The write side through one data layer. */
function writerConformance(target: StoreTarget, layer: LayerTarget): void {
  describe(`through ${layer.name}`, () => {
    let store: OutboxStore;
    let writer: OutboxWriter;
    let handle: LayerHandle;
    beforeAll(async () => {
      const { url, options } = await target.fresh();
      store = await storeFor(url, options);
      await store.migrate();
      writer = store.writer({ contracts: orderContracts(), source: '/conformance' });
      handle = await layer.open(url);
    });
    afterAll(async () => {
      await handle?.close();
    });
    const pending = async (): Promise<number> => (await store.status()).pending;
    /** One transaction that appends `inputs`, through the layer's own kind of transaction. */
    const write = (inputs: AppendInput[]): Promise<HeraldEvent[]> =>
      layer.sync
        ? sync(() => handle.transactionSync!((tx) => writer.appendManySync!(tx, inputs)))
        : handle.transaction((tx) => writer.appendMany(tx, inputs));

    it('writes the events with the transaction that commits, in input order', async () => {
      const before = await pending();
      const events = await write([0, 1, 2].map((seq) => ({ contract: CONTRACT, data: orderPlaced('commit-key', seq) })));
      expect(await pending()).toBe(before + 3);
      const publisher = collectingPublisher();
      await relayUntil(store, publisher, async () => (await pending()) === 0);
      expect(publisher.got.map((o) => o.event.id)).toEqual(events.map((e) => e.id));
      expect(JSON.parse(publisher.got[0]!.data)).toEqual(events[0]!.data);
      // The same instant; PostgreSQL renders a timestamptz as +00:00 where the event said Z.
      expect(Date.parse(publisher.got[0]!.event.time)).toBe(Date.parse(events[0]!.time));
    });

    it('leaves nothing when the transaction rolls back', async () => {
      const before = await pending();
      const err = await errorOf(
        layer.sync
          ? sync(() =>
              handle.transactionSync!((tx) => {
                writer.appendManySync!(tx, [{ contract: CONTRACT, data: orderPlaced('rollback-key') }]);
                throw new Error('business rule failed');
              }),
            )
          : handle.transaction(async (tx) => {
              await writer.append(tx, CONTRACT, orderPlaced('rollback-key'));
              throw new Error('business rule failed');
            }),
      );
      expect(err.message).toBe('business rule failed');
      expect(await pending()).toBe(before);
    });

    it('validates before any SQL: one invalid event in a batch writes nothing', async () => {
      const before = await pending();
      const err = await errorOf(
        write([
          { contract: CONTRACT, data: orderPlaced('valid-key') },
          { contract: CONTRACT, data: { ...orderPlaced('invalid-key'), total: 'ten' } },
        ]),
      );
      expect(isHeraldError(err, ErrorCodes.EVENT_INVALID)).toBe(true);
      expect(await pending()).toBe(before);
    });

    it('refuses a handle that is not inside a transaction, saying what to pass', async () => {
      const before = await pending();
      const err = await errorOf(writer.append(handle.notATransaction, CONTRACT, orderPlaced('pool-key')));
      expect(isHeraldError(err, ErrorCodes.TRANSACTION_REQUIRED)).toBe(true);
      expect(err.message).toMatch(layer.refusalHint);
      if (layer.sync) {
        const syncErr = await errorOf(
          sync(() => writer.appendManySync!(handle.notATransaction, [{ contract: CONTRACT, data: orderPlaced('pool-key') }])),
        );
        expect(isHeraldError(syncErr, ErrorCodes.TRANSACTION_REQUIRED)).toBe(true);
      }
      expect(await pending()).toBe(before);
    });
  });
}

/** Runs a synchronous function as a promise, so a throw becomes a rejection. */
async function sync<T>(fn: () => T): Promise<T> {
  return fn();
}

/** 8 writers and 4 relay processes keep per-key commit order; SIGKILL of a relay loses nothing. */
function relayProcessConformance(target: StoreTarget): void {
  describe('relay processes', () => {
    const children: ChildProcess[] = [];
    afterEach(() => {
      for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    });

    async function setup() {
      const { url, options } = await target.fresh();
      const store = await storeFor(url, options);
      await store.migrate();
      const topic = uniqueName('conf.topic').replace('_', '.');
      await createTopic(topic);
      const writer = store.writer({ contracts: orderContracts(topic), source: '/conformance' });
      const relay = (): ChildProcess => {
        const args = ['--database', url, '--kafka', `kafka://${KAFKA}`, '--lease', '4000', '--poll-interval', '300', '--json'];
        const child = startRelay(options.schema === undefined ? args : [...args, '--schema', options.schema]);
        children.push(child);
        return child;
      };
      return { url, store, topic, writer, relay, pending: async () => (await store.status()).pending };
    }

    it('keeps per-key commit order with 8 writers and 4 relay processes', async () => {
      const t = await setup();
      const relays = [t.relay(), t.relay(), t.relay(), t.relay()];
      // A relay process can take seconds to start on a loaded machine: write once all four are up.
      expect(await waitFor(async () => (await t.store.status()).relays === 4, 60_000, 250)).toBe(true);
      const keys = Array.from({ length: 64 }, (_, k) => `key-${k}`);
      const handles = await Promise.all(Array.from({ length: 8 }, () => target.layers[0]!.open(t.url)));
      const written: string[] = [];
      let turn = Promise.resolve();
      // Writers that cannot hold transactions at once (SQLite) take turns, still interleaved.
      const inTurn = <T>(fn: () => Promise<T>): Promise<T> => {
        if (target.concurrentWriters) return fn();
        const run = turn.then(fn);
        turn = run.then(
          () => undefined,
          () => undefined,
        );
        return run;
      };
      await Promise.all(
        handles.map(async (h, i) => {
          for (let seq = 0; seq < 20; seq++) {
            for (const key of keys.filter((_, k) => k % 8 === i)) {
              const e = await inTurn(() => h.transaction((tx) => t.writer.append(tx, CONTRACT, orderPlaced(key, seq))));
              written.push(e.id);
            }
          }
        }),
      );
      await Promise.all(handles.map((h) => h.close()));
      expect(written).toHaveLength(64 * 20);
      expect(await waitFor(async () => (await t.pending()) === 0, 90_000, 300)).toBe(true);
      for (const r of relays) r.kill('SIGTERM');
      expect(await Promise.all(relays.map(exited))).toEqual([0, 0, 0, 0]);
      const messages = await readTopic(t.topic);
      expect(new Set(messages.map((m) => m.headers.ce_id))).toEqual(new Set(written));
      for (const key of keys) expect(firstSeqs(messages, key), `order of ${key}`).toEqual(Array.from({ length: 20 }, (_, i) => i));
    });

    it('loses nothing when a relay is killed with SIGKILL mid-stream', async () => {
      const t = await setup();
      const handle = await target.layers[0]!.open(t.url);
      const keys = Array.from({ length: 20 }, (_, k) => `crash-${k}`);
      const ids: string[] = [];
      for (let seq = 0; seq < 100; seq++) {
        const events = await handle.transaction((tx) =>
          t.writer.appendMany(
            tx,
            keys.map((key) => ({ contract: CONTRACT, data: orderPlaced(key, seq) })),
          ),
        );
        ids.push(...events.map((e) => e.id));
      }
      await handle.close();
      const first = t.relay();
      expect(await waitFor(async () => (await t.pending()) < ids.length - 100, 30_000, 20)).toBe(true);
      first.kill('SIGKILL');
      expect(await exited(first)).toBe('SIGKILL');
      expect(await t.pending()).toBeGreaterThan(0);
      const second = t.relay();
      expect(await waitFor(async () => (await t.pending()) === 0, 60_000, 300)).toBe(true);
      second.kill('SIGTERM');
      expect(await exited(second)).toBe(0);
      const messages = await readTopic(t.topic);
      expect(new Set(messages.map((m) => m.headers.ce_id))).toEqual(new Set(ids));
      for (const key of keys) expect(firstSeqs(messages, key)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    });
  });
}
