import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { formatFinding } from '../../src/contracts/compatibility.js';
import { checkAgainstBase, loadContractsAtRef } from '../../src/contracts/git-base.js';
import { loadContractDir } from '../../src/contracts/load.js';
import { HeraldError } from '../../src/errors.js';

const run = promisify(execFile);
const EXAMPLE = readFileSync('examples/orders/contracts/order-placed.v1.yaml', 'utf8');
const roots: string[] = [];

afterEach(async () => {
  for (const root of roots.splice(0)) await rm(root, { recursive: true, force: true });
});

/** git in `root`, with an identity and no signing, whatever this machine's git config says. */
async function git(root: string, ...args: string[]): Promise<string> {
  const { stdout } = await run('git', [
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
  return stdout;
}

/** The example contract at `version`, with textual edits. */
function contract(version: string, ...edits: [string | RegExp, string][]): string {
  return edits.reduce<string>((text, [from, to]) => text.replace(from, to), EXAMPLE.replace('version: 1.0.0', `version: ${version}`));
}

const COUPON: [string, string] = [
  '      - name: placedAt\n',
  '      - name: coupon\n        logicalType: string\n      - name: placedAt\n',
];
const TOTAL_INTEGER: [RegExp, string] = [/- name: total\n {8}logicalType: number/, '- name: total\n        logicalType: integer'];

/** A repository whose first commit has `contracts/order-placed.v1.yaml`; returns its contracts folder. */
async function repository(): Promise<{ root: string; dir: string }> {
  const root = await mkdtemp(join(tmpdir(), 'herald-git-base-'));
  roots.push(root);
  await git(root, 'init', '--quiet', '--initial-branch=main');
  const dir = join(root, 'contracts');
  await mkdir(dir);
  await writeFile(join(dir, 'order-placed.v1.yaml'), contract('1.0.0'));
  await git(root, 'add', '.');
  await git(root, 'commit', '--quiet', '-m', 'contracts 1.0.0');
  return { root, dir };
}

async function check(dir: string, ref = 'HEAD') {
  return checkAgainstBase(await loadContractDir(dir), await loadContractsAtRef(dir, ref), { ref });
}

async function failure(promise: Promise<unknown>): Promise<HeraldError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof HeraldError) return err;
    throw err;
  }
  throw new Error('expected a HeraldError');
}

describe('contracts at a git ref', () => {
  it('reads the contract files as they are at the ref, named <path>@<ref>', async () => {
    const { dir } = await repository();
    await writeFile(join(dir, 'order-placed.v1.yaml'), contract('1.0.0', TOTAL_INTEGER));
    const [base] = await loadContractsAtRef(dir, 'HEAD');
    expect(base!.file).toBe('contracts/order-placed.v1.yaml@HEAD');
    expect((base!.jsonSchema.properties as Record<string, { type: unknown }>).total!.type).toBe('number');
  });

  it('passes a compatible new version, compared with the released one', async () => {
    const { dir } = await repository();
    await writeFile(join(dir, 'order-placed.v1.1.yaml'), contract('1.1.0', COUPON));
    const results = await check(dir);
    expect(results.map((r) => [r.version, r.change, r.compatible, r.comparedWith])).toEqual([
      ['1.0.0', 'unchanged', true, []],
      ['1.1.0', 'new', true, ['1.0.0']],
    ]);
  });

  it('fails an incompatible new version, naming the version, the base and the path', async () => {
    const { dir } = await repository();
    await writeFile(join(dir, 'order-placed.v2.yaml'), contract('2.0.0', TOTAL_INTEGER));
    const r = (await check(dir)).find((x) => x.version === '2.0.0')!;
    expect(r).toMatchObject({ change: 'new', compatible: false });
    expect(r.findings.map((f) => formatFinding(r, f))).toEqual([
      "version 2.0.0 of 'orders.order-placed' breaks BACKWARD against 1.0.0 at HEAD: /total: type narrowed from number to integer",
    ]);
  });

  it('reports a released version edited after release, in both directions', async () => {
    const { dir } = await repository();
    await writeFile(join(dir, 'order-placed.v1.yaml'), contract('1.0.0', COUPON));
    const [r] = await check(dir);
    expect(r).toMatchObject({ version: '1.0.0', change: 'changed', compatible: false, comparedWith: ['1.0.0'] });
    expect(r!.findings.map((f) => formatFinding(r!, f))).toEqual([
      "version 1.0.0 of 'orders.order-placed' was changed after release and breaks FORWARD against its released form at HEAD: /coupon: property 'coupon' added to a closed object (additionalProperties: false)",
    ]);
  });

  it('reports a released version whose partition key changed, even with the same schema', async () => {
    const { dir } = await repository();
    await writeFile(join(dir, 'order-placed.v1.yaml'), contract('1.0.0', ['    value: customerId', '    value: orderId']));
    const [r] = await check(dir);
    expect(r!.findings.map((f) => formatFinding(r!, f))).toEqual([
      "version 1.0.0 of 'orders.order-placed' was changed after release: partition key changed from 'customerId' to 'orderId'; per-key order breaks between old and new events",
    ]);
  });

  it('lets a released version change its descriptions', async () => {
    const { dir } = await repository();
    await writeFile(
      join(dir, 'order-placed.v1.yaml'),
      contract('1.0.0', ['  purpose: A customer placed an order', '  purpose: Someone placed an order']),
    );
    expect(await check(dir)).toEqual([expect.objectContaining({ version: '1.0.0', change: 'unchanged', compatible: true })]);
  });

  it('reports a released version whose file was removed', async () => {
    const { root, dir } = await repository();
    await writeFile(join(dir, 'order-placed.v1.1.yaml'), contract('1.1.0', COUPON));
    await git(root, 'add', '.');
    await git(root, 'commit', '--quiet', '-m', 'contracts 1.1.0');
    await rm(join(dir, 'order-placed.v1.yaml'));
    const results = await check(dir);
    const removed = results.find((r) => r.version === '1.0.0')!;
    expect(removed).toMatchObject({ change: 'removed', compatible: false });
    expect(formatFinding(removed, removed.findings[0]!)).toMatch(
      /^version 1\.0\.0 of 'orders\.order-placed' was removed since HEAD: .*keep contracts\/order-placed\.v1\.yaml and set its status to deprecated or retired$/,
    );
    expect(results.find((r) => r.version === '1.1.0')).toMatchObject({ change: 'unchanged', compatible: true });
  });

  it('compares with an earlier commit, given as HEAD~1', async () => {
    const { root, dir } = await repository();
    await writeFile(join(dir, 'order-placed.v2.yaml'), contract('2.0.0', TOTAL_INTEGER));
    await git(root, 'add', '.');
    await git(root, 'commit', '--quiet', '-m', 'contracts 2.0.0');
    expect((await check(dir, 'HEAD')).every((r) => r.compatible)).toBe(true);
    const results = await check(dir, 'HEAD~1');
    expect(results.find((r) => r.version === '2.0.0')).toMatchObject({ change: 'new', compatible: false });
  });

  it('lets a draft version at the base change, checking it as new', async () => {
    const { root, dir } = await repository();
    await writeFile(join(dir, 'order-placed.v1.1.yaml'), contract('1.1.0', COUPON, ['status: active', 'status: draft']));
    await git(root, 'add', '.');
    await git(root, 'commit', '--quiet', '-m', 'draft 1.1.0');
    await writeFile(
      join(dir, 'order-placed.v1.1.yaml'),
      contract('1.1.0', ['      - name: placedAt\n', '      - name: voucher\n        logicalType: string\n      - name: placedAt\n']),
    );
    const r = (await check(dir)).find((x) => x.version === '1.1.0');
    expect(r).toMatchObject({ change: 'new', compatible: true, comparedWith: ['1.0.0'] });
  });

  it('refuses an unknown ref with the ref and the fetch command that gets it', async () => {
    const { root, dir } = await repository();
    await git(root, 'remote', 'add', 'origin', root);
    const err = await failure(loadContractsAtRef(dir, 'origin/main'));
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toBe(
      `unknown git ref 'origin/main' in ${await realTop(root)}: fetch it first (git fetch origin main), or pass --base with an existing branch, tag or commit`,
    );
  });

  it('refuses a folder outside any git repository, saying so', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'herald-no-git-'));
    roots.push(dir);
    const err = await failure(loadContractsAtRef(dir, 'origin/main'));
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toMatch(
      /^cannot compare contracts with git ref 'origin\/main': git cannot use '.*' \(fatal: not a git repository.*\); run the check in a git checkout, or without --base$/,
    );
  });

  it('refuses a ref that looks like an option', async () => {
    const { dir } = await repository();
    expect((await failure(loadContractsAtRef(dir, '--output=/tmp/x'))).code).toBe('CONFIG_INVALID');
  });

  it('names the file and the ref of a contract that was malformed at the base', async () => {
    const { root, dir } = await repository();
    await writeFile(
      join(dir, 'order-placed.v1.yaml'),
      (await readFile(join(dir, 'order-placed.v1.yaml'), 'utf8')).replace('name: OrderPlaced\n', 'name: [x\n'),
    );
    await git(root, 'commit', '--quiet', '-am', 'broken');
    const err = await failure(loadContractsAtRef(dir, 'HEAD'));
    expect(err.code).toBe('CONTRACT_INVALID');
    expect(err.message).toMatch(/^invalid contract contracts\/order-placed\.v1\.yaml@HEAD:\d+: yaml syntax/);
  });
});

/** The repository root as git prints it (the temporary folder may sit behind a symlink). */
async function realTop(root: string): Promise<string> {
  return (await git(root, 'rev-parse', '--show-toplevel')).trim();
}
