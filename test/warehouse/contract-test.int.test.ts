import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { ContractRegistry } from '../../src/contracts/registry.js';
import { RowBuilder } from '../../src/warehouse/rows.js';
import { sinkFor } from '../../src/warehouse/warehouse-url.js';
import { planTables } from '../../src/warehouse/table-plan.js';
import { runContractTests, type CheckResult } from '../../src/warehouse/contract-test.js';
import {
  ORDER_CONTRACT,
  ORDER_TABLE,
  dropWarehouse,
  duckWarehouse,
  goodOrders,
  orderContract,
  pgWarehouse,
  type TestWarehouse,
} from './contract-test-support.js';

const targets: [string, () => Promise<TestWarehouse>][] = [
  ['duckdb', duckWarehouse],
  ['postgres', () => Promise.resolve(pgWarehouse())],
];

/** `check column` of every result that is not a pass. */
function notPassing(results: readonly CheckResult[]): string[] {
  return results.filter((r) => r.status !== 'pass').map((r) => `${r.status} ${r.check}${r.column ? ` ${r.column}` : ''}`);
}

describe.each(targets)('herald contract test on %s', (_name, make) => {
  let warehouse: TestWarehouse | undefined;
  afterEach(async () => {
    if (warehouse) await dropWarehouse(warehouse);
    warehouse = undefined;
  });

  async function run(...sql: string[]): Promise<CheckResult[]> {
    warehouse = await make();
    await warehouse.exec(...goodOrders(warehouse), ...sql);
    return runContractTests({ warehouse: warehouse.url, contracts: [orderContract()] });
  }

  it('passes every check of a table whose rows keep the contract', async () => {
    const results = await run();
    expect(notPassing(results)).toEqual([]);
    expect(results.map((r) => `${r.check}${r.column ? ` ${r.column}` : ''}`)).toEqual([
      'table_exists',
      'unique _event_id',
      'not_null order_id',
      'unique order_id',
      'not_null status',
      'valid_values status',
      'range total',
      'null_values coupon',
      'row_count',
      'freshness _loaded_at',
    ]);
    const byCheck = (check: string, column?: string): CheckResult =>
      results.find((r) => r.check === check && (column === undefined || r.column === column))!;
    expect(byCheck('row_count')).toMatchObject({ observed: 3, expected: '>= 3 rows', contract: 'test.order-checked', table: ORDER_TABLE });
    expect(byCheck('null_values', 'coupon')).toMatchObject({ observed: 33.33, unit: 'percent', expected: '<= 50 %' });
    expect(byCheck('freshness').observed).toBeLessThan(60);
    expect(byCheck('freshness').expected).toBe('<= 3600 s');
  });

  it.each([
    ['a NULL in a required column', `UPDATE {t} SET status = NULL WHERE _event_id = 'e1'`, ['fail not_null status']],
    [
      'a duplicate event id',
      `INSERT INTO {t} (_event_id, _contract_version, order_id, status, total) VALUES ('e1', '1.0.0', 'o-4', 'paid', 1)`,
      ['fail unique _event_id'],
    ],
    ['a duplicate value of a unique property', `UPDATE {t} SET order_id = 'o-1' WHERE _event_id = 'e2'`, ['fail unique order_id']],
    ['a value below the minimum', `UPDATE {t} SET total = -0.5 WHERE _event_id = 'e1'`, ['fail range total']],
    ['a value above the maximum', `UPDATE {t} SET total = 10000.01 WHERE _event_id = 'e1'`, ['fail range total']],
    ['a value outside the valid values', `UPDATE {t} SET status = 'shipped' WHERE _event_id = 'e2'`, ['fail valid_values status']],
    ['too many NULLs for a percent rule', `UPDATE {t} SET coupon = NULL`, ['fail null_values coupon']],
    ['too few rows', `DELETE FROM {t} WHERE _event_id = 'e3'`, ['fail row_count']],
    [
      'rows loaded longer ago than the freshness SLA',
      `UPDATE {t} SET _loaded_at = current_timestamp - INTERVAL '2 hours'`,
      ['fail freshness _loaded_at'],
    ],
  ])('fails on %s, and only that check', async (_what, sql, expected) => {
    expect(notPassing(await run(sql))).toEqual(expected);
  });

  it('reports the observed value and a message naming the table and column', async () => {
    const results = await run(`UPDATE {t} SET status = NULL`, `UPDATE {t} SET _loaded_at = current_timestamp - INTERVAL '3 hours'`);
    const nulls = results.find((r) => r.check === 'not_null' && r.column === 'status')!;
    expect(nulls).toMatchObject({ column: 'status', status: 'fail', observed: 3, expected: '= 0 rows' });
    expect(nulls.message).toBe(`${ORDER_TABLE}.status: 3 rows NULL, expected = 0 rows`);
    const fresh = results.find((r) => r.check === 'freshness')!;
    expect(fresh.observed).toBeGreaterThanOrEqual(3 * 3600);
    expect(fresh.observed).toBeLessThan(3 * 3600 + 60);
  });

  it('fails one table_exists check naming the table, and says to run herald load, when nothing was loaded', async () => {
    warehouse = await make();
    await warehouse.exec(`CREATE TABLE {schema}.unrelated (id integer)`);
    const results = await runContractTests({ warehouse: warehouse.url, contracts: [orderContract()] });
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ check: 'table_exists', status: 'fail', table: ORDER_TABLE, expected: 'exists' });
    expect(results[0]!.message).toMatch(new RegExp(`table '${ORDER_TABLE}' does not exist in .*; run herald load`));
  });

  it('fails freshness on an empty table: no row was ever loaded', async () => {
    const results = await run(`DELETE FROM {t}`);
    const fresh = results.find((r) => r.check === 'freshness')!;
    expect(fresh).toMatchObject({ status: 'fail', observed: null });
    expect(fresh.message).toContain('no rows loaded yet');
  });

  it('reads a required rule only in the rows of the versions that declare it', async () => {
    // Version 1.1.0 makes coupon required; the rows of 1.0.0 may still lack it.
    const v11 = ORDER_CONTRACT.replace('version: 1.0.0', 'version: 1.1.0').replace(
      '      - name: coupon\n        logicalType: string\n',
      '      - name: coupon\n        logicalType: string\n        required: true\n',
    );
    warehouse = await make();
    await warehouse.exec(
      ...goodOrders(warehouse),
      `INSERT INTO {t} (_event_id, _contract_version, order_id, status, total, coupon) VALUES ('e4', '1.1.0', 'o-4', 'paid', 1, 'X')`,
    );
    const contracts = [orderContract(), orderContract(v11)];
    const pass = await runContractTests({ warehouse: warehouse.url, contracts });
    expect(pass.find((r) => r.check === 'not_null' && r.column === 'coupon')).toMatchObject({ status: 'pass', observed: 0 });
    await warehouse.exec(`UPDATE {t} SET coupon = NULL WHERE _event_id = 'e4'`);
    const fail = await runContractTests({ warehouse: warehouse.url, contracts });
    const check = fail.find((r) => r.check === 'not_null' && r.column === 'coupon')!;
    expect(check).toMatchObject({ status: 'fail', observed: 1 });
    expect(check.message).toContain('(versions 1.1.0)');
  });

  it('reports a column the table lacks as an error that says to run herald load', async () => {
    warehouse = await make();
    await warehouse.exec(...goodOrders(warehouse), `ALTER TABLE {t} DROP COLUMN total`);
    const results = await runContractTests({ warehouse: warehouse.url, contracts: [orderContract()] });
    const range = results.find((r) => r.check === 'range')!;
    expect(range).toMatchObject({ status: 'error', observed: null });
    expect(range.message).toBe(`table '${ORDER_TABLE}' has no column 'total'; run herald load to add it`);
    expect(notPassing(results)).toEqual(['error range total']);
  });

  it('passes on a table the real warehouse sink created and loaded', async () => {
    warehouse = await make();
    const registry = new ContractRegistry([orderContract()]);
    const sink = await sinkFor(warehouse.url);
    try {
      const plans = await sink.prepare(planTables(registry.list()));
      const events = [
        { orderId: 'o-1', status: 'placed', total: 12, coupon: 'WELCOME' },
        { orderId: 'o-2', status: 'paid', total: 0, coupon: null },
        { orderId: 'o-3', status: 'paid', total: 99.5, coupon: 'SPRING' },
      ].map((data, i) => ({
        topic: 'test.order-checked',
        position: String(i),
        attributes: {
          id: randomUUID(),
          type: 'test.order-checked',
          source: '/shop',
          time: '2026-12-07T09:00:00Z',
          partitionkey: data.orderId,
          dataschema: 'urn:herald:contract:test.order-checked:1.0.0',
        },
        data: JSON.stringify(data),
      }));
      expect(await sink.write(new RowBuilder(registry, plans, undefined).build(events))).toMatchObject({ inserted: 3 });
    } finally {
      await sink.close();
    }
    const results = await runContractTests({ warehouse: warehouse.url, contracts: [orderContract()] });
    expect(notPassing(results)).toEqual([]);
    expect(results).toHaveLength(10);
  });
});
