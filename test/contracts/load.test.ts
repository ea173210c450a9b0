import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseContract } from '../../src/contracts/load.js';
import { ContractRegistry } from '../../src/contracts/registry.js';
import { HeraldError } from '../../src/errors.js';

const EXAMPLE = readFileSync('examples/orders/contracts/order-placed.v1.yaml', 'utf8');

function failure(text: string): HeraldError {
  try {
    parseContract(text, 'c.yaml');
  } catch (err) {
    if (err instanceof HeraldError) return err;
    throw err;
  }
  throw new Error('expected the contract to be refused');
}

/** The 1-based line of the first line of `text` containing `needle`. */
const lineOf = (text: string, needle: string): number => text.split('\n').findIndex((l) => l.includes(needle)) + 1;

describe('parseContract', () => {
  it('loads the example contract with its partition key, topic and closed JSON Schema', () => {
    const c = parseContract(EXAMPLE, 'order-placed.v1.yaml');
    expect(c).toMatchObject({
      id: 'orders.order-placed',
      version: '1.0.0',
      owner: 'orders-team',
      partitionKey: 'customerId',
      topic: 'orders.order-placed.v1',
      compatibility: 'BACKWARD',
    });
    expect(c.dataschema).toBe('urn:herald:contract:orders.order-placed:1.0.0');
    expect(c.jsonSchema).toMatchObject({
      type: 'object',
      additionalProperties: false,
      required: ['orderId', 'customerId', 'total', 'currency', 'placedAt', 'lines'],
    });
    expect((c.jsonSchema.properties as Record<string, unknown>).customerEmail).toMatchObject({ type: ['string', 'null'], format: 'email' });
  });

  it('refuses broken YAML with the file and line of the syntax error', () => {
    const broken = EXAMPLE.replace('name: OrderPlaced\n', 'name: [OrderPlaced\n');
    const err = failure(broken);
    expect(err.code).toBe('CONTRACT_INVALID');
    expect(err.message).toMatch(/^invalid contract c\.yaml:\d+: yaml syntax/);
  });

  it('refuses a field ODCS does not allow, with its line', () => {
    const text = EXAMPLE.replace(
      '        logicalType: number\n        physicalType: DECIMAL(12,2)',
      '        logicalType: money\n        physicalType: DECIMAL(12,2)',
    );
    const err = failure(text);
    expect(err.message).toContain(`c.yaml:${lineOf(text, 'logicalType: money')}:`);
    expect(err.message).toContain('does not follow ODCS v3.1.0 at /schema/0/properties/3/logicalType');
  });

  it('refuses a contract without the required ODCS fields', () => {
    const err = failure(EXAMPLE.replace('status: active\n', ''));
    expect(err.message).toMatch(/c\.yaml:\d+: does not follow ODCS v3.1.0: must have required property 'status'/);
  });

  it('refuses a partition key that is not a property, pointing at its line', () => {
    const text = EXAMPLE.replace('    value: customerId', '    value: shopId');
    const err = failure(text);
    expect(err.message).toBe(
      `invalid contract c.yaml:${lineOf(text, 'value: shopId')}: partition key 'shopId' is not a top-level property of the schema`,
    );
  });

  it('refuses an optional partition key', () => {
    const text = EXAMPLE.replace('    value: customerId', '    value: customerEmail');
    expect(failure(text).message).toMatch(/partition key 'customerEmail' must be a required string or integer property/);
  });

  it('refuses an unknown compatibility mode, listing the known ones', () => {
    const text = EXAMPLE.replace('    value: BACKWARD', '    value: SIDEWAYS');
    expect(failure(text).message).toContain(
      `c.yaml:${lineOf(text, 'SIDEWAYS')}: compatibility 'SIDEWAYS' must be one of BACKWARD, BACKWARD_TRANSITIVE`,
    );
  });

  it('refuses a version that is not semantic', () => {
    expect(failure(EXAMPLE.replace('version: 1.0.0', 'version: one')).message).toMatch(/version 'one' must be a semantic version/);
  });
});

describe('ContractRegistry', () => {
  const v1 = parseContract(EXAMPLE, 'v1.yaml');
  const v2 = parseContract(EXAMPLE.replace('version: 1.0.0', 'version: 1.10.0'), 'v2.yaml');
  const registry = new ContractRegistry([v2, v1]);
  const valid = {
    orderId: '0190f5b2-6c1e-7d3a-9a51-2f1c3b4d5e6f',
    customerId: 'c1',
    total: 10,
    currency: 'EUR',
    placedAt: '2026-11-29T18:00:00Z',
    lines: [{ sku: 'a', quantity: 1, unitPrice: 10 }],
  };

  it('keeps versions side by side and picks the highest by default', () => {
    expect(registry.get('orders.order-placed').version).toBe('1.10.0');
    expect(registry.get('orders.order-placed', '1.0.0')).toBe(v1);
  });

  it('names the known versions when a version is missing', () => {
    expect(() => registry.get('orders.order-placed', '3.0.0')).toThrow(
      "no contract 'orders.order-placed' version 3.0.0; known versions: 1.0.0, 1.10.0",
    );
  });

  it('accepts a valid payload', () => {
    expect(() => registry.validate(v1, valid)).not.toThrow();
  });

  it.each([
    [{ ...valid, total: -1 }, '/total', 'must be >= 0'],
    [{ ...valid, currency: 'euro' }, '/currency', 'must match pattern'],
    [{ ...valid, lines: [{ sku: 'a', quantity: 0, unitPrice: 1 }] }, '/lines/0/quantity', 'must be >= 1'],
    [{ ...valid, customerId: undefined }, '/customerId', 'is required'],
    [{ ...valid, coupon: 'FREE' }, '/coupon', 'is not in the contract'],
    [{ ...valid, customerEmail: 'not-an-email' }, '/customerEmail', 'must match format "email"'],
  ])('refuses an invalid payload naming contract, version and path (%#)', (payload, path, reason) => {
    const clean = JSON.parse(JSON.stringify(payload)) as unknown;
    expect(() => registry.validate(v1, clean)).toThrow(
      `event for contract 'orders.order-placed' version 1.0.0 is invalid at ${path}: ${reason}`,
    );
  });

  it('does not print the offending value', () => {
    try {
      registry.validate(v1, { ...valid, customerEmail: 'secret-canary' });
    } catch (err) {
      expect(String((err as Error).message)).not.toContain('secret-canary');
      return;
    }
    throw new Error('expected a validation error');
  });

  it('refuses two files declaring the same id and version', () => {
    expect(() => new ContractRegistry([v1, parseContract(EXAMPLE, 'copy.yaml')])).toThrow(/declared twice: v1.yaml and copy.yaml/);
  });
});
