import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { contractExportCommand } from '../../src/cli/commands/contract-export.js';
import type { Contract } from '../../src/contracts/contract.js';
import { jsonSchemaFiles, warehouseDdlText } from '../../src/contracts/exports.js';
import { loadContractDir } from '../../src/contracts/load.js';
import { createTableSql, deadLetterTableSql, warehouseDdl } from '../../src/warehouse/ddl.js';
import { DuckDbSink } from '../../src/warehouse/duckdb-sink.js';
import { PostgresSink } from '../../src/warehouse/postgres-sink.js';
import { planTables, type TablePlan } from '../../src/warehouse/table-plan.js';

// The sinks talk to a recording fake instead of a database, so that this test sees the exact
// statements they run, without I/O (the real servers are exercised by sinks.int.test.ts).
const executed: string[] = [];
vi.mock('../../src/warehouse/duckdb-instance.js', async (importOriginal) => ({
  ...(await importOriginal<object>()),
  openDuckDb: () =>
    Promise.resolve({
      connection: {
        run: (sql: string) => {
          executed.push(sql);
          return Promise.resolve({ rowsChanged: 0 });
        },
        runAndReadAll: () => Promise.resolve({ getRows: () => [] }),
      },
      close: () => undefined,
    }),
}));
vi.mock('../../src/postgres/connect.js', async (importOriginal) => ({
  ...(await importOriginal<object>()),
  connectPg: () =>
    Promise.resolve({
      query: (q: string | { text: string }) => {
        executed.push(typeof q === 'string' ? q : q.text);
        return Promise.resolve({ rows: [], rowCount: 0 });
      },
      on: () => undefined,
      end: () => Promise.resolve(),
    }),
}));

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
const KEY = Buffer.alloc(32, 1);

let contracts: Contract[];
let shipments: TablePlan;
let dir: string;

beforeAll(async () => {
  contracts = [...(await loadContractDir('examples/orders/contracts')), ...(await loadContractDir('test/warehouse/contracts'))];
  shipments = planTables(contracts, { piiKey: KEY }).find((p) => p.table === 'test_shipment_sent')!;
  dir = await mkdtemp(join(tmpdir(), 'herald-exports-'));
  vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
});

afterAll(async () => {
  vi.restoreAllMocks();
  await rm(dir, { recursive: true, force: true });
});

/** The top-level items of a `CREATE TABLE name (...)` statement, split at commas outside parentheses. */
function columnsOf(sql: string): string[] {
  const body = sql.slice(sql.indexOf('(') + 1, sql.lastIndexOf(')'));
  const out: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of body) {
    if (ch === ',' && depth === 0) {
      out.push(current.trim());
      current = '';
      continue;
    }
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    current += ch;
  }
  return [...out, current.trim()];
}

const META = [
  '_event_id',
  '_event_type',
  '_source',
  '_subject',
  '_partition_key',
  '_event_time',
  '_contract_version',
  '_topic',
  '_position',
  '_traceparent',
];

describe('jsonSchemaFiles', () => {
  it('gives one draft-07 schema per contract version, identified by its dataschema URN', () => {
    const files = jsonSchemaFiles(contracts);
    expect(files.map((f) => f.file)).toEqual([
      'orders.order-placed-1.0.0.schema.json',
      'test.shipment-sent-1.0.0.schema.json',
      'test.shipment-sent-1.1.0.schema.json',
    ]);
    const order = files[0]!.schema;
    expect(order).toMatchObject({
      $schema: 'http://json-schema.org/draft-07/schema#',
      $id: 'urn:herald:contract:orders.order-placed:1.0.0',
      title: 'OrderPlaced 1.0.0',
      description: 'A customer placed an order; emitted once per order, after it is stored.',
      type: 'object',
      additionalProperties: false,
    });
    expect(Object.keys(order).slice(0, 4)).toEqual(['$schema', '$id', 'title', 'description']);
    expect(files[1]!.schema.description).toBe('The data of contract test.shipment-sent version 1.0.0.');
  });

  it('validates events as Herald does, with any draft-07 validator', () => {
    const ajv = addFormats(new Ajv({ strict: true, allowUnionTypes: true }));
    const [order, v1, v11] = jsonSchemaFiles(contracts).map((f) => ajv.compile(f.schema));
    const good = {
      orderId: '0190f5b2-6c1e-7d3a-9a51-2f1c3b4d5e6f',
      customerId: 'cust-42',
      total: 59.9,
      currency: 'EUR',
      placedAt: '2026-11-29T18:00:00Z',
      lines: [{ sku: 'A-1', quantity: 1, unitPrice: 59.9 }],
    };
    expect(order!(good)).toBe(true);
    expect(order!({ ...good, currency: 'euro' })).toBe(false);
    expect(order!({ ...good, extra: 1 })).toBe(false);
    expect(v1!({ shipmentId: '0190f5b2-6c1e-7d3a-9a51-2f1c3b4d5e6f', carrier: 'dhl', service: 'express' })).toBe(false);
    expect(v11!({ shipmentId: '0190f5b2-6c1e-7d3a-9a51-2f1c3b4d5e6f', carrier: 'dhl', service: 'express' })).toBe(true);
  });

  it('is written one file per version by `herald contract export --format jsonschema`', async () => {
    const out = join(dir, 'schemas');
    const result = await contractExportCommand({ contracts: 'test/warehouse/contracts', format: 'jsonschema', out });
    expect((await readdir(out)).sort()).toEqual(['test.shipment-sent-1.0.0.schema.json', 'test.shipment-sent-1.1.0.schema.json']);
    expect(result.changed).toHaveLength(2);
    const written = JSON.parse(await readFile(join(out, 'test.shipment-sent-1.1.0.schema.json'), 'utf8')) as unknown;
    expect(written).toEqual(jsonSchemaFiles(contracts)[2]!.schema);
  });
});

describe('warehouse DDL', () => {
  it('creates the DuckDB table with typed columns in plan order and the event id as primary key', () => {
    const columns = columnsOf(createTableSql(shipments, { dialect: 'duckdb' }));
    expect(createTableSql(shipments, { dialect: 'duckdb' })).toMatch(/^CREATE TABLE "test_shipment_sent" \(/);
    expect(columns.slice(0, META.length).map((c) => c.split(' ')[0])).toEqual(META);
    expect(columns[0]).toBe('_event_id VARCHAR PRIMARY KEY');
    expect(columns[5]).toBe('_event_time TIMESTAMP WITH TIME ZONE');
    expect(columns.slice(META.length)).toEqual([
      '"shipment_id" UUID',
      '"carrier" VARCHAR',
      '"weight_kg" DOUBLE',
      '"parcels" BIGINT',
      '"insured" BOOLEAN',
      '"declared_value" DECIMAL(12,2)',
      '"shipped_at" TIMESTAMP WITH TIME ZONE',
      '"ship_date" DATE',
      '"cutoff" TIME',
      '"order" VARCHAR',
      // Personal data: name masked and email hashed (text), birthYear dropped; country is from 1.1.0.
      '"recipient" STRUCT("name" VARCHAR, "email" VARCHAR, "city" VARCHAR, "country" VARCHAR)',
      '"tags" VARCHAR[]',
      '"aliases" VARCHAR',
      '"items" STRUCT("sku" VARCHAR, "qty" BIGINT)[]',
      '"extra" JSON',
      '"service" VARCHAR',
      '_loaded_at TIMESTAMP WITH TIME ZONE DEFAULT current_timestamp',
    ]);
    expect(columns.join(' ')).not.toMatch(/phone|birth_year/);
  });

  it('creates the PostgreSQL table in its schema, nested values as jsonb, with the event id as primary key', () => {
    const sql = createTableSql(shipments, { dialect: 'postgres', schema: 'analytics' });
    expect(sql).toMatch(/^CREATE TABLE "analytics"\."test_shipment_sent" \(/);
    const columns = columnsOf(sql);
    expect(columns.slice(0, META.length)).toEqual(META.map((m) => `${m} ${m === '_event_time' ? 'timestamp with time zone' : 'text'}`));
    expect(columns.slice(META.length)).toEqual([
      '"shipment_id" uuid',
      '"carrier" text',
      '"weight_kg" double precision',
      '"parcels" bigint',
      '"insured" boolean',
      '"declared_value" numeric(12,2)',
      '"shipped_at" timestamp with time zone',
      '"ship_date" date',
      '"cutoff" time without time zone',
      '"order" text',
      '"recipient" jsonb',
      '"tags" jsonb',
      '"aliases" text',
      '"items" jsonb',
      '"extra" jsonb',
      '"service" text',
      '_loaded_at timestamptz NOT NULL DEFAULT now()',
      'PRIMARY KEY (_event_id)',
    ]);
    expect(() => createTableSql(shipments, { dialect: 'postgres', schema: 'Robert"; DROP' })).toThrow(/option 'schema'/);
  });

  it('is exactly what the DuckDB sink runs for a new warehouse', async () => {
    executed.length = 0;
    const plans = planTables(contracts, { piiKey: KEY });
    const sink = new DuckDbSink({ path: 'never-opened.duckdb' });
    await sink.prepare(plans);
    await sink.close();
    const creates = executed.filter((s) => /^CREATE TABLE /.test(s));
    expect(creates).toEqual(warehouseDdl(plans, { dialect: 'duckdb' }));
    expect(creates).toEqual([deadLetterTableSql({ dialect: 'duckdb' }), ...plans.map((p) => createTableSql(p, { dialect: 'duckdb' }))]);
  });

  it('is exactly what the PostgreSQL sink runs for a new warehouse', async () => {
    executed.length = 0;
    const plans = planTables(contracts, { piiKey: KEY });
    const sink = new PostgresSink({ url: 'postgres://herald@127.0.0.1:5432/never', schema: 'analytics' });
    await sink.prepare(plans);
    await sink.close();
    const creates = executed.filter((s) => /^CREATE (TABLE|SCHEMA) /.test(s));
    expect(creates).toEqual(warehouseDdl(plans, { dialect: 'postgres', schema: 'analytics' }));
  });

  it('exports the statements with a header naming the contracts, without needing the personal-data key', () => {
    // The shipment contract hashes recipient.email, which the loader can do only with a key.
    expect(() => planTables(contracts)).toThrow(/needs a key/);
    const text = warehouseDdlText(contracts, { dialect: 'duckdb' });
    expect(text).toMatch(/^-- Warehouse tables for DuckDB/);
    expect(text).toContain('--   test/warehouse/contracts/shipment.v1.1.yaml (test.shipment-sent 1.1.0)');
    const statements = warehouseDdl(planTables(contracts, { piiKey: KEY }), { dialect: 'duckdb' });
    expect(text.endsWith(statements.map((s) => `${s};\n`).join('\n'))).toBe(true);
  });

  it('is written by `herald contract export --format ddl`, in the dialect and schema of the configured warehouse', async () => {
    const out = join(dir, 'warehouse.sql');
    await contractExportCommand({
      contracts: 'test/warehouse/contracts',
      format: 'ddl',
      warehouse: 'postgres://loader@127.0.0.1/analytics?schema=mart',
      out,
    });
    const text = await readFile(out, 'utf8');
    expect(text).toContain('CREATE SCHEMA IF NOT EXISTS "mart";');
    expect(text).toContain('CREATE TABLE "mart"."test_shipment_sent" (');

    await contractExportCommand({ contracts: 'test/warehouse/contracts', format: 'ddl', dialect: 'duckdb', out });
    expect(await readFile(out, 'utf8')).toContain('CREATE TABLE "test_shipment_sent" (_event_id VARCHAR PRIMARY KEY,');
    await expect(
      contractExportCommand({ contracts: 'test/warehouse/contracts', format: 'ddl', dialect: 'mysql' as 'duckdb', out }),
    ).rejects.toThrow(/option 'dialect' must be one of duckdb, postgres/);
    await expect(contractExportCommand({ contracts: 'test/warehouse/contracts', format: 'xml' as 'ddl', out })).rejects.toThrow(
      /option 'format'/,
    );
  });
});
