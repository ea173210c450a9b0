import { randomUUID } from 'node:crypto';
import { chmod, mkdtemp, readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Contract } from '../../src/contracts/contract.js';
import { parseContract } from '../../src/contracts/load.js';
import { ContractRegistry } from '../../src/contracts/registry.js';
import type { IncomingEvent } from '../../src/brokers/subscriber.js';
import { queryDuckDb } from '../../src/warehouse/duckdb-instance.js';
import { DuckDbSink } from '../../src/warehouse/duckdb-sink.js';
import { PostgresSink } from '../../src/warehouse/postgres-sink.js';
import { RowBuilder } from '../../src/warehouse/rows.js';
import type { WarehouseSink } from '../../src/warehouse/sink.js';
import { planTables } from '../../src/warehouse/table-plan.js';
import { PG_URL, pgClient, uniqueName } from '../support/services.js';

const DIR = 'test/warehouse/contracts';
const KEY = Buffer.from('a test key of thirty-two bytes!!');

/** The fixture contracts, optionally edited: `edit` rewrites the v1 text into another version. */
async function contracts(...extra: string[]): Promise<Contract[]> {
  const files = (await readdir(DIR)).filter((f) => f.endsWith('.yaml')).sort();
  const list = await Promise.all(files.map(async (f) => parseContract(await readFile(join(DIR, f), 'utf8'), f)));
  return [...list, ...extra.map((text, i) => parseContract(text, `extra-${i}.yaml`))];
}

async function v1Text(): Promise<string> {
  return readFile(join(DIR, 'shipment.v1.yaml'), 'utf8');
}

/** Canary values: if any of them shows up in any table, personal data leaked. */
const CANARY = {
  name: 'CANARY-NAME-Ada-Lovelace',
  email: 'canary.email.7f3a@example.org',
  phone: 'CANARY-PHONE-0799',
  year: 1815,
  alias: 'CANARY-ALIAS-Countess',
};

function shipment(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    shipmentId: randomUUID(),
    carrier: 'dhl',
    weightKg: 2.5,
    parcels: 3,
    insured: true,
    declaredValue: 1234.56,
    shippedAt: '2026-11-29T18:30:00.250Z',
    shipDate: '2026-11-29',
    cutoff: '17:45:00Z',
    order: 'ord-9',
    recipient: { name: CANARY.name, email: CANARY.email, birthYear: CANARY.year, city: 'Zürich' },
    phone: CANARY.phone,
    tags: ['fragile', 'express'],
    aliases: [CANARY.alias],
    items: [
      { sku: 'A-1', qty: 2 },
      { sku: 'B-2', qty: null },
    ],
    extra: [1, 'two', { three: 3 }],
    ...extra,
  };
}

function incoming(data: unknown, version = '1.0.0', attrs: Record<string, string> = {}): IncomingEvent {
  const id = randomUUID();
  return {
    topic: 'test.shipment-sent',
    position: `0:${Math.floor(Math.random() * 1e9)}`,
    attributes: {
      id,
      type: 'test.shipment-sent',
      source: '/logistics',
      time: '2026-11-29T18:31:00Z',
      partitionkey: 'k',
      dataschema: `urn:herald:contract:test.shipment-sent:${version}`,
      ...attrs,
    },
    data: typeof data === 'string' ? data : JSON.stringify(data),
  };
}

interface SinkTarget {
  readonly name: string;
  /** A sink on a fresh, empty warehouse. */
  make(): Promise<WarehouseSink>;
  /** Another sink on the warehouse the last `make()` made. */
  reopen(): WarehouseSink;
  rows(sql: string): Promise<Record<string, unknown>[]>;
  /** Every value of every table, as text, to look for canaries. */
  everything(): Promise<string>;
  table(name: string): string;
}

function duckTarget(): SinkTarget {
  let file = '';
  return {
    name: 'duckdb',
    make: async () => {
      const dir = await mkdtemp(join(tmpdir(), 'herald-sinks-'));
      await chmod(dir, 0o755);
      return new DuckDbSink({ path: (file = join(dir, 'warehouse.duckdb')) });
    },
    reopen: () => new DuckDbSink({ path: file }),
    rows: (sql) => queryDuckDb(file, sql),
    everything: async () => {
      const tables = await queryDuckDb(file, `SELECT table_name FROM duckdb_tables() WHERE NOT temporary`);
      const dumps = await Promise.all(tables.map((t) => queryDuckDb(file, `SELECT * FROM "${String(t.table_name)}"`)));
      return JSON.stringify(dumps);
    },
    table: (name) => `"${name}"`,
  };
}

function pgTarget(): SinkTarget {
  let schema = '';
  const query = async (sql: string): Promise<Record<string, unknown>[]> => {
    const c = await pgClient();
    try {
      return (await c.query(sql)).rows as Record<string, unknown>[];
    } finally {
      await c.end();
    }
  };
  return {
    name: 'postgres',
    make: () => Promise.resolve(new PostgresSink({ url: PG_URL, schema: (schema = uniqueName('wh')) })),
    reopen: () => new PostgresSink({ url: PG_URL, schema }),
    rows: query,
    everything: async () => {
      const tables = await query(`SELECT table_name FROM information_schema.tables WHERE table_schema = '${schema}'`);
      const dumps = await Promise.all(tables.map((t) => query(`SELECT * FROM "${schema}"."${String(t.table_name)}"`)));
      return JSON.stringify(dumps);
    },
    table: (name) => `"${schema}"."${name}"`,
  };
}

/** Plans, prepares and writes `events` with a fresh builder; returns the write result. */
async function load(sink: WarehouseSink, list: Contract[], events: IncomingEvent[]) {
  const registry = new ContractRegistry(list);
  const plans = await sink.prepare(planTables(registry.list(), { piiKey: KEY }));
  return sink.write(new RowBuilder(registry, plans, KEY).build(events));
}

for (const target of [duckTarget(), pgTarget()]) {
  describe(`${target.name} warehouse sink`, () => {
    afterAll(async () => {
      if (target.name !== 'postgres') return;
      const c = await pgClient();
      const { rows } = await c.query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'wh\\_%'`);
      for (const r of rows) await c.query(`DROP SCHEMA IF EXISTS "${String(r.nspname)}" CASCADE`);
      await c.end();
    });

    it(`${target.name}: maps every contract type to a typed column, and the values round-trip`, async () => {
      const sink = await target.make();
      const data = shipment();
      const result = await load(sink, await contracts(), [incoming(data)]);
      await sink.close();
      expect(result).toEqual({
        inserted: 1,
        duplicates: 0,
        deadLettered: 0,
        tables: { test_shipment_sent: { inserted: 1, duplicates: 0 } },
        deadLetteredByTopic: {},
      });
      const [row] = await target.rows(`SELECT * FROM ${target.table('test_shipment_sent')}`);
      const r = row!;
      expect(r.shipment_id).toBe(data.shipmentId);
      expect(r.carrier).toBe('dhl');
      expect(Number(r.weight_kg)).toBe(2.5);
      expect(Number(r.parcels)).toBe(3);
      expect(r.insured).toBe(true);
      expect(String(r.declared_value)).toBe('1234.56');
      expect(new Date(r.shipped_at as string).toISOString()).toBe('2026-11-29T18:30:00.250Z');
      expect(r.order).toBe('ord-9');
      expect(r.tags).toEqual(['fragile', 'express']);
      expect(r.items).toEqual([
        { sku: 'A-1', qty: 2 },
        { sku: 'B-2', qty: null },
      ]);
      expect(r.extra).toEqual([1, 'two', { three: 3 }]);
      expect(r._event_time).toBeTruthy();
      expect(r._contract_version).toBe('1.0.0');
      expect(r._topic).toBe('test.shipment-sent');
      // Personal data: masked, keyed hash, dropped (no field at all).
      const recipient = r.recipient as Record<string, unknown>;
      expect(recipient.name).toBe('****');
      expect(recipient.email).toMatch(/^[0-9a-f]{64}$/);
      expect(recipient).not.toHaveProperty('birth_year');
      expect(recipient.city).toBe('Zürich');
      expect(r).not.toHaveProperty('phone');
      expect(r.aliases).toMatch(/^[0-9a-f]{64}$/);
      const types = await target.rows(
        target.name === 'duckdb'
          ? `SELECT column_name AS name, data_type AS type FROM duckdb_columns() WHERE table_name = 'test_shipment_sent'`
          : `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type FROM pg_attribute a WHERE a.attrelid = '${target.table('test_shipment_sent')}'::regclass AND a.attnum > 0`,
      );
      const typeOf = Object.fromEntries(types.map((t) => [t.name, t.type]));
      expect(typeOf).toMatchObject(
        target.name === 'duckdb'
          ? {
              shipment_id: 'UUID',
              carrier: 'VARCHAR',
              weight_kg: 'DOUBLE',
              parcels: 'BIGINT',
              insured: 'BOOLEAN',
              declared_value: 'DECIMAL(12,2)',
              shipped_at: 'TIMESTAMP WITH TIME ZONE',
              ship_date: 'DATE',
              cutoff: 'TIME',
              recipient: 'STRUCT("name" VARCHAR, email VARCHAR, city VARCHAR, country VARCHAR)',
              tags: 'VARCHAR[]',
              items: 'STRUCT(sku VARCHAR, qty BIGINT)[]',
              extra: 'JSON',
            }
          : {
              shipment_id: 'uuid',
              carrier: 'text',
              weight_kg: 'double precision',
              parcels: 'bigint',
              insured: 'boolean',
              declared_value: 'numeric(12,2)',
              shipped_at: 'timestamp with time zone',
              ship_date: 'date',
              cutoff: 'time without time zone',
              recipient: 'jsonb',
              tags: 'jsonb',
              items: 'jsonb',
              extra: 'jsonb',
            },
      );
    });

    it(`${target.name}: writes a redelivered event once, within a batch and across batches`, async () => {
      const sink = await target.make();
      const e = incoming(shipment());
      const list = await contracts();
      expect(await load(sink, list, [e, e, incoming(shipment())])).toMatchObject({ inserted: 2, duplicates: 0, deadLettered: 0 });
      expect(await load(sink, list, [e])).toMatchObject({
        inserted: 0,
        duplicates: 1,
        deadLettered: 0,
        tables: { test_shipment_sent: { inserted: 0, duplicates: 1 } },
      });
      await sink.close();
      const [row] = await target.rows(`SELECT count(*) AS n, count(DISTINCT _event_id) AS ids FROM ${target.table('test_shipment_sent')}`);
      expect(Number(row!.n)).toBe(2);
      expect(Number(row!.ids)).toBe(2);
    });

    it(`${target.name}: stores text exactly, escapes and all; a lone surrogate loads as U+FFFD, as it always did`, async () => {
      const sink = await target.make();
      const list = await contracts();
      const tricky = 'quote " backslash \\ newline \n tab \t ü 😀 \u0001';
      expect(await load(sink, list, [incoming(shipment({ order: tricky, tags: [tricky] }))])).toMatchObject({ inserted: 1 });
      // A text that looks like a JSON surrogate escape, and a real lone surrogate, in one batch.
      const batch = [incoming(shipment({ order: 'escape-like \\ud800' })), incoming(shipment({ order: 'lone \ud800 surrogate' }))];
      expect(await load(sink, list, batch)).toMatchObject({ inserted: 2, duplicates: 0, deadLettered: 0 });
      await sink.close();
      const rows = await target.rows(`SELECT "order" AS o FROM ${target.table('test_shipment_sent')}`);
      expect(rows.map((r) => r.o).sort()).toEqual(['escape-like \\ud800', 'lone \ufffd surrogate', tricky].sort());
    });

    it(`${target.name}: a compatible version adds columns; old and new events land interleaved`, async () => {
      const sink = await target.make();
      const all = await contracts();
      const v1Only = all.filter((c) => c.version === '1.0.0');
      await load(sink, v1Only, [incoming(shipment())]);
      // A loader restarted with version 1.1.0 deployed next to 1.0.0.
      const mixed = [
        incoming(shipment({ service: 'overnight', recipient: { city: 'Bern', country: 'CH' } }), '1.1.0'),
        incoming(shipment()),
        incoming(shipment({ service: 'economy' }), '1.1.0'),
      ];
      expect(await load(sink, all, mixed)).toMatchObject({ inserted: 3 });
      await sink.close();
      const rows = await target.rows(
        `SELECT _contract_version AS v, service, recipient FROM ${target.table('test_shipment_sent')} ORDER BY _loaded_at, service NULLS FIRST`,
      );
      expect(rows.map((r) => [r.v, r.service])).toEqual([
        ['1.0.0', null],
        ['1.0.0', null],
        ['1.1.0', 'economy'],
        ['1.1.0', 'overnight'],
      ]);
      expect(rows.find((r) => r.service === 'overnight')!.recipient).toMatchObject({ city: 'Bern', country: 'CH' });
    });

    it(`${target.name}: refuses an incompatible version, naming the contract and the change, or gives it its own table`, async () => {
      const sink = await target.make();
      await load(sink, await contracts(), [incoming(shipment())]);
      await sink.close();
      const v2 = (await v1Text())
        .replace('version: 1.0.0', 'version: 2.0.0')
        .replace(/- name: weightKg\n(\s+)logicalType: number/, '- name: weightKg\n$1logicalType: string');
      // The same warehouse, with version 2.0.0 deployed.
      const reopened = target.reopen();
      await expect(load(reopened, await contracts(v2), [])).rejects.toMatchObject({
        code: 'SCHEMA_INCOMPATIBLE',
        message: expect.stringMatching(/contract 'test\.shipment-sent' version 2\.0\.0 .*'weight_kg' changes from double to varchar/),
      });
      await reopened.close();
      const versioned = v2.replace(
        'customProperties:\n  - property: partitionKey',
        'customProperties:\n  - property: warehouseEvolution\n    value: versionedTable\n  - property: partitionKey',
      );
      const list = (await contracts(versioned)).filter((c) => c.version === '2.0.0');
      const sink2 = target.reopen();
      expect(await load(sink2, list, [incoming(shipment({ weightKg: 'heavy' }), '2.0.0')])).toMatchObject({ inserted: 1 });
      await sink2.close();
      const [row] = await target.rows(`SELECT weight_kg FROM ${target.table('test_shipment_sent_v2')}`);
      expect(row!.weight_kg).toBe('heavy');
    });

    it(`${target.name}: puts events that fail their contract in the load dead-letter table, and loads the rest`, async () => {
      const sink = await target.make();
      const good = incoming(shipment());
      const wrongType = incoming(shipment({ parcels: 'three' }));
      const unknownKey = incoming(shipment({ surprise: 1 }));
      const notJson = incoming('{not json');
      const unknownContract = incoming({ a: 1 }, '1.0.0', { type: 'test.unknown', dataschema: 'urn:herald:contract:test.unknown:1.0.0' });
      const badTime = incoming(shipment(), '1.0.0', { time: 'yesterday' });
      const result = await load(sink, await contracts(), [good, wrongType, unknownKey, notJson, unknownContract, badTime]);
      await sink.close();
      expect(result).toMatchObject({
        inserted: 1,
        duplicates: 0,
        deadLettered: 5,
        tables: { test_shipment_sent: { inserted: 1, duplicates: 0 } },
      });
      expect(Object.values(result.deadLetteredByTopic ?? {}).reduce((a, b) => a + b, 0)).toBe(5);
      const dead = await target.rows(`SELECT id, reason, data FROM ${target.table('herald_load_dead_letters')}`);
      const reasonOf = Object.fromEntries(dead.map((d) => [d.id, String(d.reason)]));
      expect(reasonOf[wrongType.attributes.id!]).toMatch(/contract 'test\.shipment-sent' version 1\.0\.0 is invalid at \/parcels/);
      expect(reasonOf[unknownKey.attributes.id!]).toMatch(/\/surprise: is not in the contract/);
      expect(reasonOf[notJson.attributes.id!]).toMatch(/is not JSON/);
      expect(reasonOf[unknownContract.attributes.id!]).toMatch(/no contract 'test\.unknown' version 1\.0\.0 is loaded/);
      expect(reasonOf[badTime.attributes.id!]).toMatch(/not an RFC 3339 timestamp/);
      // The payload is kept (personal fields protected), so the event can be replayed once fixed.
      const kept = JSON.parse(String(dead.find((d) => d.id === wrongType.attributes.id)!.data));
      expect(kept).toMatchObject({ parcels: 'three', recipient: { name: '****', city: 'Zürich' } });
    });

    it(`${target.name}: never lets a personal value into any table (canaries)`, async () => {
      const sink = await target.make();
      const list = await contracts();
      const events = [incoming(shipment()), incoming(shipment({ parcels: 'bad' })), incoming(shipment({ carrier: 'fedex' }), '1.1.0')];
      await load(sink, list, events);
      await sink.close();
      const everything = await target.everything();
      expect(everything).toContain('Zürich');
      for (const canary of [CANARY.name, CANARY.email, CANARY.phone, CANARY.alias, 'canary.email', String(CANARY.year)])
        expect(everything).not.toContain(canary);
    });
  });
}
