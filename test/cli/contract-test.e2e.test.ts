import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { contractTestCommand } from '../../src/cli/commands/contract-test.js';
import { herald } from '../support/services.js';
import {
  ORDER_CONTRACT,
  ORDER_TABLE,
  dropWarehouse,
  duckWarehouse,
  goodOrders,
  pgWarehouse,
  type TestWarehouse,
} from '../warehouse/contract-test-support.js';

const dirs: string[] = [];
const warehouses: TestWarehouse[] = [];

afterEach(async () => {
  process.exitCode = undefined;
  vi.restoreAllMocks();
  for (const w of warehouses.splice(0)) await dropWarehouse(w);
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function contractsDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'herald-ctest-contracts-'));
  dirs.push(dir);
  await writeFile(join(dir, 'order-checked.v1.yaml'), ORDER_CONTRACT);
  return dir;
}

async function loaded(make: () => Promise<TestWarehouse>, ...sql: string[]): Promise<TestWarehouse> {
  const w = await make();
  warehouses.push(w);
  await w.exec(...goodOrders(w), ...sql);
  return w;
}

/** Runs the command function; returns what it printed and the exit code it set, then clears that code. */
async function run(flags: Parameters<typeof contractTestCommand>[0]): Promise<{ stdout: string; exitCode: number }> {
  let stdout = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  try {
    await contractTestCommand(flags);
  } finally {
    vi.restoreAllMocks();
  }
  const exitCode = Number(process.exitCode ?? 0);
  process.exitCode = undefined;
  return { stdout, exitCode };
}

/** The `<testcase>` elements of a JUnit report: name, and the failure or error message if any. */
function testcases(xml: string): { suite: string; name: string; failure?: string; error?: string }[] {
  const out: { suite: string; name: string; failure?: string; error?: string }[] = [];
  for (const suite of xml.matchAll(/<testsuite name="([^"]*)"[^>]*>([\s\S]*?)<\/testsuite>/g)) {
    for (const tc of suite[2]!.matchAll(/<testcase classname="[^"]*" name="([^"]*)"(?:\/>|>([\s\S]*?)<\/testcase>)/g)) {
      const failure = /<failure message="([^"]*)"/.exec(tc[2] ?? '')?.[1];
      const error = /<error message="([^"]*)"/.exec(tc[2] ?? '')?.[1];
      out.push({ suite: suite[1]!, name: tc[1]!, ...(failure ? { failure } : {}), ...(error ? { error } : {}) });
    }
  }
  return out;
}

describe('herald contract test (CLI)', () => {
  it('prints a table with one line per check and exits 0 when every check passes', async () => {
    const w = await loaded(duckWarehouse);
    const { stdout, exitCode } = await run({ warehouse: w.url, contracts: await contractsDir() });
    expect(exitCode).toBe(0);
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^contract\s+table\s+check\s+column\s+status\s+observed\s+expected$/);
    expect(lines.filter((l) => / PASS /.test(l))).toHaveLength(10);
    expect(stdout).toMatch(/test\.order-checked\s+test_order_checked\s+row_count\s+-\s+PASS\s+3\s+>= 3 rows/);
    expect(lines.at(-1)).toBe('10 checks: 10 passed, 0 failed, 0 errors');
  });

  it('prints --json as an array of {contract, table, check, column?, status, observed, expected} and exits 1 on a failure', async () => {
    const w = await loaded(() => Promise.resolve(pgWarehouse()), `UPDATE {t} SET status = NULL WHERE _event_id = 'e2'`);
    const { stdout, exitCode } = await run({ warehouse: w.url, contracts: await contractsDir(), json: true });
    expect(exitCode).toBe(1);
    const results = JSON.parse(stdout) as Record<string, unknown>[];
    expect(results).toHaveLength(10);
    for (const r of results) {
      expect(Object.keys(r).sort()).toEqual(
        ['check', 'contract', 'expected', 'message', 'observed', 'status', 'table', 'unit', ...('column' in r ? ['column'] : [])].sort(),
      );
      expect(['pass', 'fail', 'error']).toContain(r.status);
    }
    expect(results.filter((r) => r.status !== 'pass')).toEqual([
      {
        contract: 'test.order-checked',
        table: ORDER_TABLE,
        check: 'not_null',
        column: 'status',
        status: 'fail',
        observed: 1,
        expected: '= 0 rows',
        unit: 'rows',
        message: `${ORDER_TABLE}.status: 1 row NULL, expected = 0 rows`,
      },
    ]);
  });

  it('writes --junit: a testsuite per contract, a testcase per check, a failure with its message', async () => {
    const w = await loaded(duckWarehouse, `UPDATE {t} SET total = -1 WHERE _event_id = 'e1'`);
    const file = join(await contractsDir(), 'report.xml');
    const { exitCode } = await run({ warehouse: w.url, contracts: join(file, '..'), junit: file });
    expect(exitCode).toBe(1);
    const xml = await readFile(file, 'utf8');
    expect(
      xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="herald contract test" tests="10" failures="1" errors="0">'),
    ).toBe(true);
    expect(xml).toMatch(/<testsuite name="test\.order-checked" tests="10" failures="1" errors="0"/);
    const cases = testcases(xml);
    expect(cases).toHaveLength(10);
    expect(cases.every((c) => c.suite === 'test.order-checked')).toBe(true);
    expect(cases.filter((c) => c.failure !== undefined)).toEqual([
      { suite: 'test.order-checked', name: 'range total', failure: `${ORDER_TABLE}.total: 1 row out of range, expected = 0 rows` },
    ]);
    expect(cases.map((c) => c.name)).toContain('unique _event_id');
  });

  it('exits 1 through the built CLI when the table was never loaded, naming it and herald load', async () => {
    const w = await duckWarehouse();
    await w.exec(`CREATE TABLE {schema}.unrelated (id integer)`);
    const { code, stdout } = await herald(['contract', 'test', '--warehouse', w.url, '--contracts', await contractsDir()]);
    expect(code).toBe(1);
    expect(stdout).toMatch(/table_exists\s+-\s+FAIL/);
    expect(stdout).toContain(`FAIL test.order-checked: table '${ORDER_TABLE}' does not exist in duckdb file`);
    expect(stdout).toContain('run herald load with these contracts first');
  });

  it('exits 0 through the built CLI on PostgreSQL when every check passes', async () => {
    const w = await loaded(() => Promise.resolve(pgWarehouse()));
    const { code, stdout } = await herald(['contract', 'test', '--warehouse', w.url, '--contracts', await contractsDir(), '--json']);
    expect(code).toBe(0);
    expect((JSON.parse(stdout) as { status: string }[]).every((r) => r.status === 'pass')).toBe(true);
  });

  it('refuses a warehouse URL it does not know with an error naming it (exit 2), without its password', async () => {
    const { code, stderr } = await herald([
      'contract',
      'test',
      '--warehouse',
      'mysql://admin:s3cret@127.0.0.1/wh',
      '--contracts',
      await contractsDir(),
    ]);
    expect(code).toBe(2);
    expect(stderr).toContain("option 'warehouse' must be duckdb:<file> or postgres://");
    expect(stderr).toContain("got 'mysql://***@127.0.0.1/wh'");
    expect(stderr).not.toContain('s3cret');
  });

  it('refuses a DuckDB file that does not exist, naming it (exit 2)', async () => {
    const missing = join(await contractsDir(), 'nowhere.duckdb');
    const { code, stderr } = await herald(['contract', 'test', '--warehouse', `duckdb:${missing}`, '--contracts', join(missing, '..')]);
    expect(code).toBe(2);
    expect(stderr).toContain(`duckdb file '${missing}' does not exist`);
  });

  it('documents its options in --help', async () => {
    const { code, stdout } = await herald(['contract', 'test', '--help']);
    expect(code).toBe(0);
    expect(stdout).toContain('Usage: herald contract test');
    for (const option of ['--warehouse <url>', '--contracts <dir>', '--json', '--junit <file>']) expect(stdout).toContain(option);
  });
});
