import { cp, mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { herald } from '../support/services.js';

const ORDERS = resolve('examples/orders/contracts');

async function workDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'herald-contract-cli-'));
}

describe('herald contract (CLI)', () => {
  it('lint exits 0 on good contracts and 1 with file:line: message on a broken one', async () => {
    const ok = await herald(['contract', 'lint', '--contracts', ORDERS]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/1 file\(s\), 1 contract\(s\), 0 problem\(s\)/);

    const dir = await workDir();
    await cp(ORDERS, dir, { recursive: true });
    const file = join(dir, 'order-placed.v1.yaml');
    await writeFile(file, (await readFile(file, 'utf8')).replace("examples: ['EUR']", "examples: ['euro']"));
    const bad = await herald(['contract', 'lint', '--contracts', dir, '--json']);
    expect(bad.code).toBe(1);
    const report = JSON.parse(bad.stdout);
    expect(report.issues).toEqual([
      expect.objectContaining({ line: expect.any(Number), message: expect.stringMatching(/example 1 of property 'currency'/) }),
    ]);
  });

  it('codegen, export and docs write their files', async () => {
    const dir = await workDir();
    const run = (args: string[]) => herald(['contract', ...args, '--contracts', ORDERS]);
    expect((await run(['codegen', '--out', join(dir, 'gen.ts')])).code).toBe(0);
    expect(await readFile(join(dir, 'gen.ts'), 'utf8')).toMatch(/export function appendOrderPlacedV1\(/);

    expect((await run(['export', '--format', 'asyncapi', '--out', join(dir, 'asyncapi.yaml')])).code).toBe(0);
    const doc = parseYaml(await readFile(join(dir, 'asyncapi.yaml'), 'utf8'));
    expect(doc.asyncapi).toBe('3.0.0');

    expect((await run(['export', '--format', 'jsonschema', '--out', join(dir, 'schemas')])).code).toBe(0);
    expect(await readdir(join(dir, 'schemas'))).toEqual(['orders.order-placed-1.0.0.schema.json']);

    expect((await run(['export', '--format', 'ddl', '--dialect', 'duckdb', '--out', join(dir, 'w.sql')])).code).toBe(0);
    expect(await readFile(join(dir, 'w.sql'), 'utf8')).toMatch(/CREATE TABLE .*orders_order_placed.*"total" DECIMAL\(12,2\)/s);

    const docs = await run(['docs', '--out', join(dir, 'docs')]);
    expect(docs.code, docs.stderr).toBe(0);
    expect(await readFile(join(dir, 'docs', 'index.html'), 'utf8')).toMatch(/orders\.order-placed/);

    const wrong = await run(['export', '--format', 'pdf']);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/--format.*pdf.*asyncapi, jsonschema, ddl|Allowed choices are asyncapi, jsonschema, ddl/);
  });
});
