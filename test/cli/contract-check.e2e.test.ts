import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { contractCheckCommand, type ContractCheckReport } from '../../src/cli/commands/contract-check.js';

// `herald contract check` is not wired into main.ts yet, so this drives the command function
// itself, with stdout captured, rather than a `node dist/src/cli/main.js` process.

const run = promisify(execFile);
const EXAMPLE = readFileSync('examples/orders/contracts/order-placed.v1.yaml', 'utf8');
const V2_INTEGER_TOTAL = EXAMPLE.replace('version: 1.0.0', 'version: 2.0.0').replace(
  /- name: total\n {8}logicalType: number/,
  '- name: total\n        logicalType: integer',
);
const dirs: string[] = [];

afterEach(async () => {
  process.exitCode = undefined;
  vi.restoreAllMocks();
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function contractsDir(files: Record<string, string>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'herald-contract-check-'));
  dirs.push(root);
  const dir = join(root, 'contracts');
  await mkdir(dir);
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return dir;
}

/** Runs the command; returns what it printed and the exit code it set, then clears that code. */
async function check(flags: Parameters<typeof contractCheckCommand>[0]): Promise<{ stdout: string; exitCode: number }> {
  let stdout = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  try {
    await contractCheckCommand(flags);
    return { stdout, exitCode: Number(process.exitCode ?? 0) };
  } finally {
    process.exitCode = undefined;
    vi.restoreAllMocks();
  }
}

describe('herald contract check', () => {
  it('prints a line per contract version and exits 0 when all are compatible', async () => {
    const out = await check({ contracts: 'examples/orders/contracts' });
    expect(out.exitCode).toBe(0);
    expect(out.stdout).toMatch(/^contract\s+version\s+mode\s+compared with\s+result\n/);
    expect(out.stdout).toMatch(/orders\.order-placed\s+1\.0\.0\s+BACKWARD\s+-\s+compatible/);
    expect(out.stdout).toContain('1 contract version checked: all compatible');
  });

  it('prints each finding and exits 1 when a version breaks', async () => {
    const dir = await contractsDir({ 'order-placed.v1.yaml': EXAMPLE, 'order-placed.v2.yaml': V2_INTEGER_TOTAL });
    const out = await check({ contracts: dir });
    expect(out.exitCode).toBe(1);
    expect(out.stdout).toMatch(/orders\.order-placed\s+2\.0\.0\s+BACKWARD\s+1\.0\.0\s+breaks \(1\)/);
    expect(out.stdout).toContain(
      "version 2.0.0 of 'orders.order-placed' breaks BACKWARD against 1.0.0: /total: type narrowed from number to integer",
    );
    expect(out.stdout).toContain('a breaking change needs a new contract id, or compatibility NONE on the new version');
  });

  it('prints a JSON report with --json', async () => {
    const dir = await contractsDir({ 'order-placed.v1.yaml': EXAMPLE, 'order-placed.v2.yaml': V2_INTEGER_TOTAL });
    const out = await check({ contracts: dir, json: true });
    const report = JSON.parse(out.stdout) as ContractCheckReport;
    expect(report).toMatchObject({ compatible: false, base: null });
    expect(report.results[1]).toMatchObject({
      contract: 'orders.order-placed',
      version: '2.0.0',
      mode: 'BACKWARD',
      compatible: false,
      comparedWith: ['1.0.0'],
      findings: [{ against: '1.0.0', direction: 'BACKWARD', kind: 'TYPE_NARROWED', path: '/total' }],
    });
  });

  it('checks against a git ref with --base, showing how each version changed', async () => {
    const dir = await contractsDir({ 'order-placed.v1.yaml': EXAMPLE });
    const root = join(dir, '..');
    const git = (...args: string[]) =>
      run('git', [
        '-C',
        root,
        '-c',
        'user.name=Herald Test',
        '-c',
        'user.email=test@example.invalid',
        '-c',
        'commit.gpgsign=false',
        ...args,
      ]);
    await git('init', '--quiet', '--initial-branch=main');
    await git('add', '.');
    await git('commit', '--quiet', '-m', 'contracts');
    await writeFile(join(dir, 'order-placed.v2.yaml'), V2_INTEGER_TOTAL);

    const out = await check({ contracts: dir, base: 'main' });
    expect(out.exitCode).toBe(1);
    expect(out.stdout).toMatch(/contract\s+version\s+change\s+mode/);
    expect(out.stdout).toMatch(/1\.0\.0\s+unchanged/);
    expect(out.stdout).toContain("version 2.0.0 of 'orders.order-placed' breaks BACKWARD against 1.0.0 at main: /total:");
    expect(out.stdout).toContain('1 of 2 contract versions checked against main break compatibility');

    const unknown = contractCheckCommand({ contracts: dir, base: 'origin/release' });
    await expect(unknown).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringMatching(/^unknown git ref 'origin\/release'/),
    });
  });
});
