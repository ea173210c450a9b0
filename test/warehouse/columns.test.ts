import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseContract } from '../../src/contracts/load.js';
import { columnText, compileColumn, type ColumnType, type Field } from '../../src/warehouse/columns.js';
import { planTables } from '../../src/warehouse/table-plan.js';

const KEY = Buffer.alloc(32, 7);
const V1 = parseContract(readFileSync('test/warehouse/contracts/shipment.v1.yaml', 'utf8'), 'v1.yaml');
const V11 = parseContract(readFileSync('test/warehouse/contracts/shipment.v1.1.yaml', 'utf8'), 'v1.1.yaml');

/** Payloads of every shape a column may meet, well-formed or not (validation is not the column's job). */
const PAYLOADS: Record<string, unknown>[] = [
  {},
  {
    shipmentId: '0190f5b2-6c1e-7d3a-9a51-2f1c3b4d5e6f',
    carrier: 'dhl',
    weightKg: 1.5,
    parcels: 2,
    insured: true,
    declaredValue: 12.3,
    shippedAt: '2026-11-29T18:00:00Z',
    order: 'o-1',
    recipient: { name: 'Ada Lovelace', email: 'ada@example.com', birthYear: 1815, city: 'London', country: 'GB' },
    phone: '+44 1',
    tags: ['a', 'b"c', 'ü\n'],
    aliases: ['ada', null],
    items: [{ sku: 's-1', qty: 3 }, { sku: 's-2' }, null, { sku: null, qty: 0 }],
    extra: { anything: [1, { deep: true }], n: null },
    service: 'express',
  },
  { recipient: null, items: null, tags: null, extra: null },
  { recipient: ['not', 'an', 'object'], items: { not: 'a list' }, tags: 'not a list', aliases: 'ada' },
  { recipient: { name: 42, email: { nested: 1 } }, items: [[1], 'x', { qty: -0, sku: 1e21 }] },
  { recipient: {}, items: [], tags: [] },
];

/** Every column of `type` read by both paths must give the same text. */
function expectSameText(columns: readonly Field[], own: ReadonlyMap<string, Field>): void {
  for (const column of columns) {
    const reader = compileColumn(column.type, own.get(column.name), KEY);
    for (const data of PAYLOADS) {
      expect({ column: column.name, text: reader(data) }).toEqual({
        column: column.name,
        text: columnText(column.type, own.get(column.name), data, KEY),
      });
    }
  }
}

describe('compiled column readers', () => {
  it('give the same text as columnText for every column of a contract, personal data protected alike', () => {
    const [plan] = planTables([V1], { piiKey: KEY });
    expectSameText(plan!.columns, plan!.ownFields.get(V1)!);
    const email = compileColumn(plan!.columns.find((c) => c.name === 'recipient')!.type, plan!.ownFields.get(V1)!.get('recipient'), KEY);
    const text = email(PAYLOADS[1]!)!;
    expect(text).not.toContain('ada@example.com');
    expect(text).not.toContain('Ada Lovelace');
    expect(text).not.toContain('1815');
  });

  it('give the same text for an older version written into a table the newer version widened', () => {
    const [plan] = planTables([V1, V11], { piiKey: KEY });
    for (const version of [V1, V11]) expectSameText(plan!.columns, plan!.ownFields.get(version)!);
    const recipient = plan!.columns.find((c) => c.name === 'recipient')!;
    // v1 lacks recipient.country: the field is there, as null, which DuckDB's struct cast needs.
    expect(JSON.parse(compileColumn(recipient.type, plan!.ownFields.get(V1)!.get('recipient'), KEY)(PAYLOADS[1]!)!)).toHaveProperty(
      'country',
      null,
    );
  });

  it('fall back to the generic path where an object would reorder or drop struct fields', () => {
    const leaf: ColumnType = { kind: 'varchar' };
    const fields: Field[] = [
      { name: 'b', property: 'b', type: leaf },
      { name: '1', property: 'one', type: leaf },
      { name: '__proto__', property: 'p', type: leaf },
    ];
    const type: ColumnType = { kind: 'struct', fields };
    const own: Field = { name: 's', property: 's', type };
    const data = { s: { b: 'x', one: 'y', p: 'z' } };
    expect(compileColumn(type, own, KEY)(data)).toBe(columnText(type, own, data, KEY));
    expect(compileColumn(type, own, KEY)(data)).toBe('{"1":"y","b":"x"}');
  });
});
