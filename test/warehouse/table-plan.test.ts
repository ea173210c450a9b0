import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseContract } from '../../src/contracts/load.js';
import { decodeIncoming } from '../../src/brokers/incoming.js';
import { snakeCase, type ColumnType } from '../../src/warehouse/columns.js';
import { duckDbType, parseDuckDbType } from '../../src/warehouse/duckdb-types.js';
import { protect } from '../../src/warehouse/pii.js';
import { planTables } from '../../src/warehouse/table-plan.js';

const V1 = readFileSync('test/warehouse/contracts/shipment.v1.yaml', 'utf8');
const KEY = Buffer.alloc(32, 7);

describe('warehouse table plans', () => {
  it('names columns in snake_case, and honours physicalName', () => {
    expect(['customerId', 'HTTPStatus', 'unitPrice', 'a.b', 'already_snake'].map(snakeCase)).toEqual([
      'customer_id',
      'http_status',
      'unit_price',
      'a_b',
      'already_snake',
    ]);
    const renamed = parseContract(V1.replace('- name: parcels\n', '- name: parcels\n        physicalName: parcel_count\n'), 'v1.yaml');
    expect(planTables([renamed], { piiKey: KEY })[0]!.columns.map((c) => c.name)).toContain('parcel_count');
  });

  it('refuses to plan hashed personal data without a key, naming the contract, property and fix', () => {
    expect(() => planTables([parseContract(V1, 'v1.yaml')])).toThrowError(
      /contract 'test\.shipment-sent' version 1\.0\.0 hashes personal property 'recipient\.email', which needs a key: set HERALD_PII_KEY/,
    );
  });

  it('refuses an unknown piiTreatment and a column name two properties share', () => {
    const unknown = parseContract(V1.replace('value: mask', 'value: scramble'), 'v1.yaml');
    expect(() => planTables([unknown], { piiKey: KEY })).toThrowError(
      /property 'recipient\.name' has piiTreatment 'scramble'; use one of hash, mask, drop/,
    );
    const clash = parseContract(V1.replace('- name: parcels\n', '- name: parcels\n        physicalName: weight_kg\n'), 'v1.yaml');
    expect(() => planTables([clash], { piiKey: KEY })).toThrowError(/becomes warehouse column 'weight_kg', which is taken/);
  });

  it('refuses a version that changes a personal-data treatment in a shared table', () => {
    const v1 = parseContract(V1, 'v1.yaml');
    const v2 = parseContract(V1.replace('version: 1.0.0', 'version: 1.1.0').replace('value: mask', 'value: hash'), 'v1.1.yaml');
    expect(() => planTables([v1, v2], { piiKey: KEY })).toThrowError(
      /version 1\.1\.0 cannot load into warehouse table 'test_shipment_sent': column 'recipient\.name' changes its personal-data treatment from mask to hash/,
    );
  });

  it('reads back the DuckDB spelling of every type it writes', () => {
    const plan = planTables([parseContract(V1, 'v1.yaml')], { piiKey: KEY })[0]!;
    for (const c of plan.columns) {
      const spelled = duckDbType(c.type).replace(/"/g, '');
      expect(parseDuckDbType(spelled), spelled).toBeDefined();
      expect(duckDbType(parseDuckDbType(spelled) as ColumnType)).toBe(duckDbType(c.type));
    }
    expect(parseDuckDbType('STRUCT("order" BIGINT, "a b" VARCHAR)[]')).toMatchObject({ kind: 'list', item: { kind: 'struct' } });
    expect(parseDuckDbType('INTEGER')).toBeUndefined();
  });

  it('masks and hashes with the key, keeping an e-mail domain when masking', () => {
    expect(protect('ada@example.com', 'mask', undefined)).toBe('****@example.com');
    expect(protect('Ada Lovelace', 'mask', undefined)).toBe('****');
    expect(protect(1815, 'mask', undefined)).toBe('****');
    const h = protect('ada@example.com', 'hash', KEY);
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(protect('ada@example.com', 'hash', KEY)).toBe(h);
    expect(protect('ada@example.com', 'hash', Buffer.alloc(32, 8))).not.toBe(h);
    expect(protect(null, 'hash', KEY)).toBeNull();
  });
});

describe('decoding received messages', () => {
  it('takes binary-mode attributes from prefixed headers and keeps the body byte for byte', () => {
    const e = decodeIncoming(
      't',
      '0:1',
      [
        ['ce_id', 'x'],
        ['ce_type', 'y'],
        ['content-type', 'application/json'],
        ['other', 'z'],
      ],
      'ce_',
      '{"a":1.0}',
    );
    expect(e).toEqual({ topic: 't', position: '0:1', attributes: { id: 'x', type: 'y' }, data: '{"a":1.0}' });
  });

  it('unpacks a structured-mode CloudEvent', () => {
    const body = JSON.stringify({ specversion: '1.0', id: 'x', type: 'y', source: '/s', data: { a: 1 } });
    const e = decodeIncoming('t', 'p', [['content-type', 'application/cloudevents+json; charset=utf-8']], 'ce-', body);
    expect(e.attributes).toEqual({ specversion: '1.0', id: 'x', type: 'y', source: '/s' });
    expect(e.data).toBe('{"a":1}');
  });

  it('keeps a broken structured-mode body as data, with no attributes, for the dead-letter table', () => {
    const e = decodeIncoming('t', 'p', [['content-type', 'application/cloudevents+json']], 'ce-', '{broken');
    expect(e).toMatchObject({ attributes: {}, data: '{broken' });
  });
});
