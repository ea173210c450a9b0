import { chmod, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Contract } from '../../src/contracts/contract.js';
import { parseContract } from '../../src/contracts/load.js';
import { createTableSql, qualifiedTable, type DdlTarget } from '../../src/warehouse/ddl.js';
import { openDuckDb } from '../../src/warehouse/duckdb-instance.js';
import { planTables } from '../../src/warehouse/table-plan.js';
import { PG_URL, pgClient, uniqueName } from '../support/services.js';

/**
 * A contract with one rule of each kind `herald contract test` runs: required, unique, valid
 * values, a range, a percent nullValues rule, a row count and a freshness SLA.
 */
export const ORDER_CONTRACT = `apiVersion: v3.1.0
kind: DataContract
id: test.order-checked
name: OrderChecked
version: 1.0.0
status: active
schema:
  - name: OrderChecked
    logicalType: object
    quality:
      - metric: rowCount
        mustBeGreaterOrEqualTo: 3
    properties:
      - name: orderId
        logicalType: string
        required: true
        unique: true
      - name: status
        logicalType: string
        required: true
        quality:
          - metric: invalidValues
            arguments: { validValues: [placed, paid] }
            mustBe: 0
      - name: total
        logicalType: number
        logicalTypeOptions: { minimum: 0, maximum: 10000 }
      - name: coupon
        logicalType: string
        quality:
          - metric: nullValues
            mustBeLessOrEqualTo: 50
            unit: percent
slaProperties:
  - property: freshness
    value: 1
    unit: h
customProperties:
  - property: partitionKey
    value: orderId
`;

/** The table the loader plans for {@link ORDER_CONTRACT}. */
export const ORDER_TABLE = 'test_order_checked';

/** The parsed {@link ORDER_CONTRACT}. */
export function orderContract(text = ORDER_CONTRACT): Contract {
  return parseContract(text, 'order-checked.yaml');
}

/** A fresh, empty warehouse of one dialect that a test fills with plain SQL. */
export interface TestWarehouse {
  readonly name: 'duckdb' | 'postgres';
  /** The URL `herald contract test --warehouse` takes. */
  readonly url: string;
  readonly target: DdlTarget;
  /** Runs statements; `{t}` in them stands for the order table's qualified name, `{schema}` for its schema. */
  exec(...sql: string[]): Promise<void>;
}

/** A DuckDB file in a fresh temp directory. */
export async function duckWarehouse(): Promise<TestWarehouse> {
  const dir = await mkdtemp(join(tmpdir(), 'herald-ctest-'));
  await chmod(dir, 0o755);
  const file = join(dir, 'warehouse.duckdb');
  const target: DdlTarget = { dialect: 'duckdb' };
  return {
    name: 'duckdb',
    url: `duckdb:${file}`,
    target,
    exec: async (...sql) => {
      // Opened and closed per call: the checks open the file read-only, which DuckDB refuses
      // while this process holds a writer on it through another instance.
      const db = await openDuckDb(file);
      try {
        for (const s of sql)
          await db.connection.run(s.replaceAll('{t}', qualifiedTable(ORDER_TABLE, target)).replaceAll('{schema}', 'main'));
      } finally {
        db.close();
      }
    },
  };
}

/** A fresh schema on the test PostgreSQL. */
export function pgWarehouse(): TestWarehouse {
  const schema = uniqueName('ctest');
  const target: DdlTarget = { dialect: 'postgres', schema };
  return {
    name: 'postgres',
    url: `${PG_URL}?schema=${schema}`,
    target,
    exec: async (...sql) => {
      const c = await pgClient();
      try {
        await c.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
        for (const s of sql) await c.query(s.replaceAll('{t}', qualifiedTable(ORDER_TABLE, target)).replaceAll('{schema}', `"${schema}"`));
      } finally {
        await c.end();
      }
    },
  };
}

/** Drops a PostgreSQL test schema; nothing for DuckDB (the temp file is left to the OS). */
export async function dropWarehouse(w: TestWarehouse): Promise<void> {
  if (w.target.dialect !== 'postgres') return;
  const c = await pgClient();
  try {
    await c.query(`DROP SCHEMA IF EXISTS "${w.target.schema}" CASCADE`);
  } finally {
    await c.end();
  }
}

/**
 * The order table exactly as the loader creates it, but without its primary key (as a migration
 * tool might make it), so a duplicate event id can be stored and caught; then three good rows.
 */
export function goodOrders(w: TestWarehouse, contract = orderContract()): string[] {
  const plan = planTables([contract])[0]!;
  const ddl = createTableSql(plan, w.target).replace(', PRIMARY KEY (_event_id)', '').replace(' PRIMARY KEY', '');
  return [
    ddl,
    `INSERT INTO {t} (_event_id, _event_type, _contract_version, order_id, status, total, coupon) VALUES ` +
      `('e1', 'test.order-checked', '1.0.0', 'o-1', 'placed', 10.5, 'WELCOME'), ` +
      `('e2', 'test.order-checked', '1.0.0', 'o-2', 'paid', 0, NULL), ` +
      `('e3', 'test.order-checked', '1.0.0', 'o-3', 'paid', 10000, 'SPRING')`,
  ];
}
