import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import avro from 'avsc';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contractExportCommand } from '../../src/cli/commands/contract-export.js';
import { avroSchema } from '../../src/contracts/avro.js';
import { bigQuerySchemas, type BigQueryField } from '../../src/contracts/bigquery.js';
import type { Contract } from '../../src/contracts/contract.js';
import { dbtSources } from '../../src/contracts/dbt.js';
import { contractList } from '../../src/contracts/exports.js';
import { loadContractDir } from '../../src/contracts/load.js';
import { registrySubjects } from '../../src/contracts/registry-export.js';
import { ErrorCodes, isHeraldError } from '../../src/errors.js';

let shipments: Contract[];
let orders: Contract[];
let out: string;
beforeAll(async () => {
  shipments = contractList(await loadContractDir('test/warehouse/contracts'));
  orders = contractList(await loadContractDir('examples/orders/contracts'));
  out = await mkdtemp(join(tmpdir(), 'herald-formats-'));
});
afterAll(() => rm(out, { recursive: true, force: true }));

describe('Avro export', () => {
  it('is a schema avsc parses, and a value of the contract is valid under it', () => {
    const type = avro.Type.forSchema(avroSchema(orders[0]!) as avro.Schema);
    const value = {
      orderId: '0190f5b2-6c1e-7d3a-9a51-2f1c3b4d5e6f',
      customerId: 'cust-42',
      customerEmail: null,
      total: Buffer.from([0x17, 0x66]),
      currency: 'EUR',
      placedAt: 1_764_439_200_000_000,
      lines: [{ sku: 'BOOK-1', quantity: 1, unitPrice: 59.9 }],
    };
    expect(type.isValid(value)).toBe(true);
    // A required nested field missing, or an optional one given the wrong type, is not.
    expect(type.isValid({ ...value, lines: [{ sku: 'BOOK-1', quantity: 1 }] })).toBe(false);
    expect(type.isValid({ ...value, customerEmail: 42 })).toBe(false);
    // The bytes survive a round trip through Avro's binary encoding.
    expect(type.fromBuffer(type.toBuffer(value))).toMatchObject({ customerId: 'cust-42', lines: [{ sku: 'BOOK-1' }] });
  });

  it('maps every logical type, nests records under unique names, and parses for the shipment contract too', () => {
    const schema = avroSchema(shipments[1]!) as { fields: { name: string; type: unknown }[] };
    const type = (name: string) => schema.fields.find((f) => f.name === name)!.type;
    expect(type('shipmentId')).toEqual({ type: 'string', logicalType: 'uuid' });
    expect(type('declaredValue')).toEqual(['null', { type: 'bytes', logicalType: 'decimal', precision: 12, scale: 2 }]);
    expect(type('shipDate')).toEqual(['null', { type: 'int', logicalType: 'date' }]);
    expect(type('cutoff')).toEqual(['null', { type: 'long', logicalType: 'time-micros' }]);
    expect(type('extra')).toEqual(['null', 'string']); // an array without items is its JSON text
    expect(type('recipient')).toMatchObject(['null', { type: 'record', name: 'Recipient' }]);
    expect(type('items')).toMatchObject(['null', { type: 'array', items: { type: 'record', name: 'Items_Items' } }]);
    expect(() => avro.Type.forSchema(schema as avro.Schema)).not.toThrow();
  });

  it('refuses a property name Avro cannot carry, naming it', () => {
    const bad = { ...orders[0]!, properties: [...orders[0]!.properties, { name: 'unit-price', logicalType: 'number' as const }] };
    let err: unknown;
    try {
      avroSchema(bad);
    } catch (e) {
      err = e;
    }
    expect(isHeraldError(err, ErrorCodes.CONTRACT_INVALID)).toBe(true);
    expect((err as Error).message).toContain("'OrderPlaced.unit-price' is not a valid Avro name");
  });
});

describe('BigQuery export', () => {
  const byName = (fields: readonly BigQueryField[], name: string): BigQueryField => fields.find((f) => f.name === name)!;

  it('describes the loader’s table: metadata first, data NULLABLE, lists REPEATED, structs RECORD, PII as text', () => {
    const [table] = bigQuerySchemas(shipments);
    expect(table!.table).toBe('test_shipment_sent');
    const s = table!.schema;
    expect(s.slice(0, 2)).toEqual([
      { name: '_event_id', type: 'STRING', mode: 'REQUIRED' },
      { name: '_event_type', type: 'STRING', mode: 'NULLABLE' },
    ]);
    expect(s.at(-1)).toEqual({ name: '_loaded_at', type: 'TIMESTAMP', mode: 'REQUIRED' });
    expect(byName(s, 'declared_value')).toEqual({ name: 'declared_value', mode: 'NULLABLE', type: 'NUMERIC', precision: '12', scale: '2' });
    expect(byName(s, 'tags')).toEqual({ name: 'tags', mode: 'REPEATED', type: 'STRING' });
    expect(byName(s, 'items')).toMatchObject({
      mode: 'REPEATED',
      type: 'RECORD',
      fields: [
        { name: 'sku', type: 'STRING' },
        { name: 'qty', type: 'INT64' },
      ],
    });
    const recipient = byName(s, 'recipient');
    expect(recipient.type).toBe('RECORD');
    expect(recipient.fields!.map((f) => f.name)).not.toContain('birth_year'); // dropped personal data has no column
    expect(s.map((f) => f.name)).not.toContain('phone');
    expect(byName(s, 'shipped_at').type).toBe('TIMESTAMP');
    expect(byName(s, 'cutoff').type).toBe('TIME');
    expect(byName(s, 'insured').type).toBe('BOOL');
    // What BigQuery refuses: names outside [A-Za-z_][A-Za-z0-9_]*, REPEATED inside REPEATED.
    const walk = (fields: readonly BigQueryField[]): void => {
      for (const f of fields) {
        expect(f.name).toMatch(/^[A-Za-z_][A-Za-z0-9_]{0,299}$/);
        if (f.fields) walk(f.fields);
      }
    };
    walk(s);
  });
});

describe('dbt sources export', () => {
  it('tests _event_id, not_null only where every version requires the property, accepted_values from the contract', () => {
    const doc = dbtSources(shipments, { schema: 'analytics' }) as {
      sources: [{ name: string; schema: string; tables: [{ name: string; columns: { name: string; data_tests?: unknown[] }[] }] }];
    };
    const [source] = doc.sources;
    expect(source).toMatchObject({ name: 'herald', schema: 'analytics' });
    const columns = Object.fromEntries(source.tables[0].columns.map((c) => [c.name, c.data_tests ?? []]));
    expect(columns._event_id).toEqual(['not_null', 'unique']);
    expect(columns.shipment_id).toEqual(['not_null']);
    expect(columns.carrier).toEqual(['not_null', { accepted_values: { values: ['dhl', 'ups', 'post'] } }]);
    expect(columns.weight_kg).toEqual([]);
  });

  it('turns the freshness SLA into source freshness on _loaded_at (5 s → 1 minute)', () => {
    const doc = dbtSources(orders, { schema: 'main' }) as { sources: [{ tables: [Record<string, unknown>] }] };
    expect(doc.sources[0].tables[0]).toMatchObject({
      loaded_at_field: '_loaded_at',
      freshness: { warn_after: { count: 1, period: 'minute' } },
    });
  });
});

describe('schema registry export', () => {
  it('gives each version its value subject, compatibility level and request body; the schema string is the JSON Schema', () => {
    const [r] = registrySubjects(orders);
    expect(r).toMatchObject({
      subject: 'orders.order-placed.v1-value',
      contract: 'orders.order-placed',
      version: '1.0.0',
      compatibility: 'BACKWARD',
    });
    expect(r!.request.schemaType).toBe('JSON');
    expect(JSON.parse(r!.request.schema)).toMatchObject({ $id: 'urn:herald:contract:orders.order-placed:1.0.0', type: 'object' });
  });
});

describe('herald contract export --format avro|bigquery|dbt|registry', () => {
  it('writes the files, and finds them up to date on a second run', async () => {
    for (const format of ['avro', 'bigquery', 'dbt', 'registry'] as const) {
      const target = join(out, format === 'dbt' ? 'sources.yml' : format);
      const first = await contractExportCommand({ format, contracts: 'test/warehouse/contracts', out: target, json: true });
      expect(first.changed.length, format).toBeGreaterThan(0);
      const again = await contractExportCommand({ format, contracts: 'test/warehouse/contracts', out: target, json: true });
      expect(again.changed, format).toEqual([]);
    }
    expect((await readdir(join(out, 'avro'))).sort()).toEqual(['test.shipment-sent-1.0.0.avsc', 'test.shipment-sent-1.1.0.avsc']);
    expect(await readdir(join(out, 'bigquery'))).toEqual(['test_shipment_sent.json']);
    expect((await readdir(join(out, 'registry'))).sort()).toEqual([
      'test.shipment-sent-value-1.0.0.json',
      'test.shipment-sent-value-1.1.0.json',
    ]);
    const yaml = parseYaml(await readFile(join(out, 'sources.yml'), 'utf8')) as { version: number; sources: { schema: string }[] };
    expect(yaml.version).toBe(2);
    expect(yaml.sources[0]!.schema).toBe('main');
  });
});
