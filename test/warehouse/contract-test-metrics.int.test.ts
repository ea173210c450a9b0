import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { parseContract } from '../../src/contracts/load.js';
import { runContractTests, type CheckResult } from '../../src/warehouse/contract-test.js';
import { createTableSql, qualifiedTable } from '../../src/warehouse/ddl.js';
import { planTables } from '../../src/warehouse/table-plan.js';
import { dropWarehouse, duckWarehouse, pgWarehouse, type TestWarehouse } from './contract-test-support.js';

/** The ODCS library metrics beyond the common ones, a timestamp range, and a rule Herald cannot run. */
const CONTRACT = parseContract(
  `apiVersion: v3.1.0
kind: DataContract
id: test.order-metrics
name: OrderMetrics
version: 1.0.0
status: active
schema:
  - name: OrderMetrics
    logicalType: object
    quality:
      - metric: rowCount
        mustBeBetween: [1, 4]
      - metric: duplicateValues
        arguments: { properties: [orderId, code] }
        mustBe: 0
      - type: sql
        name: totals add up
        query: SELECT 1
        mustBe: 1
    properties:
      - name: orderId
        logicalType: string
        required: true
      - name: status
        logicalType: string
        quality:
          - metric: missingValues
            arguments: { missingValues: [null, '', N/A] }
            mustBeLessThan: 1
      - name: code
        logicalType: string
        quality:
          - metric: invalidValues
            arguments: { pattern: '^[A-Z]{3}-[0-9]+$' }
            mustBe: 0
      - name: email
        logicalType: string
        logicalTypeOptions: { pattern: '@' }
        quality:
          - metric: duplicateValues
            mustBeLessOrEqualTo: 25
            unit: percent
      - name: placedAt
        logicalType: timestamp
        logicalTypeOptions: { minimum: '2020-01-01T00:00:00Z' }
customProperties:
  - property: partitionKey
    value: orderId
`,
  'order-metrics.yaml',
);
const TABLE = 'test_order_metrics';

const targets: [string, () => Promise<TestWarehouse>][] = [
  ['duckdb', duckWarehouse],
  ['postgres', () => Promise.resolve(pgWarehouse())],
];

describe.each(targets)('ODCS library metrics on %s', (_name, make) => {
  let warehouse: TestWarehouse | undefined;
  afterEach(async () => {
    if (warehouse) await dropWarehouse(warehouse);
    warehouse = undefined;
  });

  async function run(...sql: string[]): Promise<CheckResult[]> {
    warehouse = await make();
    const t = qualifiedTable(TABLE, warehouse.target);
    await warehouse.exec(
      createTableSql(planTables([CONTRACT])[0]!, warehouse.target),
      `INSERT INTO ${t} (_event_id, _contract_version, order_id, status, code, email, placed_at) VALUES ` +
        `('e1', '1.0.0', 'o-1', 'placed', 'ABC-1', 'a@example.org', '2026-01-01T10:00:00Z'), ` +
        `('e2', '1.0.0', 'o-2', 'paid', 'ABC-2', 'b@example.org', '2026-01-02T10:00:00Z'), ` +
        `('e3', '1.0.0', 'o-3', 'paid', 'XYZ-3', 'c@example.org', '2026-01-03T10:00:00Z'), ` +
        `('e4', '1.0.0', 'o-4', 'paid', NULL, 'd@example.org', NULL)`,
      ...sql.map((s) => s.replaceAll('{m}', t)),
    );
    return runContractTests({ warehouse: warehouse.url, contracts: [CONTRACT] });
  }

  const status = (results: readonly CheckResult[]): Record<string, string> =>
    Object.fromEntries(results.map((r) => [`${r.check}${r.column ? ` ${r.column}` : ''}`, r.status]));

  it('passes the metrics on good rows and reports the rule it cannot run as an error', async () => {
    const results = await run();
    expect(status(results)).toEqual({
      table_exists: 'pass',
      'unique _event_id': 'pass',
      'not_null order_id': 'pass',
      'missing_values status': 'pass',
      'pattern code': 'pass',
      'pattern email': 'pass',
      'duplicate_values email': 'pass',
      'range placed_at': 'pass',
      row_count: 'pass',
      'duplicate_values orderId, code': 'pass',
      quality_rule: 'error',
    });
    expect(results.find((r) => r.check === 'quality_rule')!.message).toBe("herald contract test does not run sql rules ('totals add up')");
    expect(results.find((r) => r.check === 'row_count')).toMatchObject({ observed: 4, expected: 'between 1 and 4 rows' });
  });

  it.each([
    ['a value listed as missing', `UPDATE {m} SET status = 'N/A' WHERE _event_id = 'e1'`, 'missing_values status'],
    ['an empty string listed as missing', `UPDATE {m} SET status = '' WHERE _event_id = 'e1'`, 'missing_values status'],
    ['a value that does not match the pattern', `UPDATE {m} SET code = 'abc-1' WHERE _event_id = 'e1'`, 'pattern code'],
    [
      'duplicates above the percent limit',
      `UPDATE {m} SET email = 'a@example.org' WHERE _event_id IN ('e2', 'e3')`,
      'duplicate_values email',
    ],
    [
      'a value that does not match its logicalTypeOptions pattern',
      `UPDATE {m} SET email = 'nobody' WHERE _event_id = 'e4'`,
      'pattern email',
    ],
    ['a timestamp before the minimum', `UPDATE {m} SET placed_at = '2019-12-31T23:59:59Z' WHERE _event_id = 'e1'`, 'range placed_at'],
    [
      'a duplicate across two columns',
      `UPDATE {m} SET order_id = 'o-1', code = 'ABC-1' WHERE _event_id = 'e2'`,
      'duplicate_values orderId, code',
    ],
    [
      'more rows than the row count allows',
      `INSERT INTO {m} (_event_id, _contract_version, order_id, status) VALUES ('e5', '1.0.0', 'o-5', 'paid')`,
      'row_count',
    ],
  ])('fails on %s', async (_what, sql, failing) => {
    const results = await run(sql);
    expect(Object.entries(status(results)).filter(([, s]) => s === 'fail')).toEqual([[failing, 'fail']]);
  });

  it('counts a percent rule against the rows of the table', async () => {
    const results = await run(`UPDATE {m} SET email = 'a@example.org' WHERE _event_id = 'e2'`);
    expect(results.find((r) => r.check === 'duplicate_values' && r.column === 'email')).toMatchObject({
      status: 'pass',
      observed: 25,
      unit: 'percent',
      expected: '<= 25 %',
    });
  });
});

describe('the loader fixture contract', () => {
  it('runs with nested, personal and keyword-named columns without an error', async () => {
    const shipment = parseContract(readFileSync('test/warehouse/contracts/shipment.v1.yaml', 'utf8'), 'shipment.v1.yaml');
    const w = await duckWarehouse();
    const plan = planTables([shipment], { piiKey: Buffer.alloc(32) })[0]!;
    await w.exec(createTableSql(plan, w.target));
    const results = await runContractTests({ warehouse: w.url, contracts: [shipment] });
    expect(results.filter((r) => r.status === 'error')).toEqual([]);
    expect(results.find((r) => r.check === 'valid_values')).toMatchObject({ column: 'carrier', status: 'pass', observed: 0 });
  });
});
