/**
 * Contracts as they were at a git ref, and the check of the working tree's contracts against
 * them: what a pull request's CI runs (`herald contract check --base origin/main`).
 */
import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { promisify } from 'node:util';
import { HeraldError, ErrorCodes } from '../errors.js';
import { checkCompatibility, compareContracts, type CompatibilityFinding, type CompatibilityResult } from './compatibility.js';
import type { Contract } from './contract.js';
import { parseContract } from './load.js';
import { compareVersions, groupVersions } from './registry.js';

const run = promisify(execFile);

/**
 * Loads every `*.yaml` / `*.yml` contract under the contracts directory `dir` (a path in a git
 * working tree) as the files are at `ref` — a branch, tag, commit or expression such as
 * `origin/main` or `HEAD~1` — without touching the working tree or the index. Each contract's
 * `file` is `<path in the repository>@<ref>`. A directory that did not exist at `ref` gives no
 * contracts. Throws `CONFIG_INVALID` naming the ref and what to do when `dir` is not in a git
 * repository, git is missing or the ref is unknown (a CI checkout often lacks it: `git fetch
 * origin main`), and `CONTRACT_INVALID` naming `<path>@<ref>` when a file at the ref is malformed.
 */
export async function loadContractsAtRef(dir: string, ref: string): Promise<Contract[]> {
  if (ref === '' || ref.startsWith('-') || /[\s\0]/.test(ref)) {
    throw new HeraldError(
      ErrorCodes.CONFIG_INVALID,
      `git ref '${ref}' is not a ref; pass --base with a branch, tag or commit such as origin/main`,
      {
        details: { option: 'base', ref },
      },
    );
  }
  try {
    if (!(await stat(dir)).isDirectory()) throw new Error('not a directory');
  } catch (cause) {
    throw new HeraldError(
      ErrorCodes.CONFIG_INVALID,
      `cannot read contracts directory '${dir}': ${(cause as Error).message}; set --contracts to a folder of ODCS YAML files`,
      { cause, details: { option: 'contracts', dir } },
    );
  }
  let top: string;
  let prefix: string;
  try {
    [top, prefix] = (await git(dir, ['rev-parse', '--show-toplevel', '--show-prefix'])).split('\n') as [string, string];
  } catch (cause) {
    const missing = (cause as NodeJS.ErrnoException).code === 'ENOENT';
    // git's own first line says why: not a repository, or one it refuses (dubious ownership).
    const why = String((cause as { stderr?: unknown }).stderr ?? '')
      .trim()
      .split('\n')[0];
    throw new HeraldError(
      ErrorCodes.CONFIG_INVALID,
      missing
        ? `cannot compare contracts with git ref '${ref}': git is not installed or not on PATH`
        : `cannot compare contracts with git ref '${ref}': git cannot use '${dir}' (${why || 'not a git repository'}); run the check in a git checkout, or without --base`,
      { cause, details: { option: 'base', ref, dir } },
    );
  }
  try {
    await git(top, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]);
  } catch (cause) {
    throw new HeraldError(
      ErrorCodes.CONFIG_INVALID,
      `unknown git ref '${ref}' in ${top}: ${await fetchHint(top, ref)}, or pass --base with an existing branch, tag or commit`,
      { cause, details: { option: 'base', ref } },
    );
  }
  const listing = await git(top, ['ls-tree', '-r', '-z', '--name-only', `${ref}^{commit}`, '--', prefix === '' ? '.' : prefix]);
  const files = listing
    .split('\0')
    .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
    .sort();
  const contracts: Contract[] = [];
  for (const file of files) {
    // `<rev>:<path>` takes the path from the repository root, which is how ls-tree printed it.
    contracts.push(parseContract(await git(top, ['show', `${ref}^{commit}:${file}`]), `${file}@${ref}`));
  }
  return contracts;
}

async function git(cwd: string, args: readonly string[]): Promise<string> {
  const { stdout } = await run('git', ['-C', cwd, ...args], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  return stdout.replace(/\n$/, '');
}

/** `git fetch origin main` for `origin/main` when `origin` is a remote; a general hint otherwise. */
async function fetchHint(top: string, ref: string): Promise<string> {
  const remotes = (await git(top, ['remote']).catch(() => '')).split('\n').filter(Boolean);
  const slash = ref.indexOf('/');
  const remote = slash > 0 ? ref.slice(0, slash) : '';
  if (/[~^@]/.test(ref)) return 'fetch more history first (a shallow clone lacks it: git fetch --deepen=50)';
  if (remote !== '' && (remotes.includes(remote) || remotes.length === 0))
    return `fetch it first (git fetch ${remote} ${ref.slice(slash + 1)})`;
  return `fetch it first (git fetch ${remotes[0] ?? 'origin'} ${ref})`;
}

/** How a contract version differs from the base ref. */
export type BaseChange = 'new' | 'changed' | 'unchanged' | 'removed';

/** A {@link CompatibilityResult} of `checkAgainstBase`, with how the version differs from the base. */
export interface BaseCompatibilityResult extends CompatibilityResult {
  readonly change: BaseChange;
}

/** Options of {@link checkAgainstBase}. */
export interface CheckAgainstBaseOptions {
  /** The git ref `base` was read at, named in findings and messages (default `base`). */
  readonly ref?: string;
}

/** ODCS statuses of versions that were never released: they may still change or go. */
const UNRELEASED = new Set(['draft', 'proposed']);

/**
 * Checks the working tree's contracts (`current`) against those at a base ref (`base`, from
 * {@link loadContractsAtRef}), per version:
 *
 * - **new** (not at the base, or a `draft`/`proposed` one there): checked with its own mode, as
 *   {@link checkCompatibility} does, against the earlier versions — the base's form of each
 *   version the base has, the working tree's form of the others.
 * - **changed** (a released version whose schema, partition key, topic or event type differs):
 *   its events are already in outboxes, topics and warehouses, under the same version, read and
 *   written by services on either side of the change; so it must stay FULL compatible with its
 *   released form, whatever its mode, and keep its partition key (per-key order), topic and event
 *   type. Findings name the version itself with `base` set; annotation-only edits (descriptions,
 *   examples) pass.
 * - **unchanged**: compatible, nothing compared.
 * - **removed** (a released version at the base, gone now): one `VERSION_REMOVED` finding, since
 *   its events may still be anywhere; keep the file and set its status to `deprecated` or `retired`.
 *
 * Results are sorted by id, then version. Throws `CONTRACT_INVALID` on a duplicate id and
 * version on either side. Pure.
 */
export function checkAgainstBase(
  current: readonly Contract[],
  base: readonly Contract[],
  options: CheckAgainstBaseOptions = {},
): BaseCompatibilityResult[] {
  const ref = options.ref ?? 'base';
  const now = groupVersions(current);
  const then = groupVersions(base);
  const results: BaseCompatibilityResult[] = [];
  for (const id of [...new Set([...now.keys(), ...then.keys()])].sort()) {
    const currentVersions = now.get(id) ?? [];
    const baseVersions = then.get(id) ?? [];
    const released = (v: string): Contract | undefined => baseVersions.find((b) => b.version === v && !UNRELEASED.has(b.status));
    // The history a new version is held to: released forms where the base has them.
    const history = [
      ...baseVersions.filter((b) => !UNRELEASED.has(b.status)),
      ...currentVersions.filter((c) => released(c.version) === undefined),
    ];
    for (const c of currentVersions) {
      const before = released(c.version);
      if (before === undefined) {
        const r = checkCompatibility(c, history);
        // Findings against a version read at the base say so: `against 1.0.0 at origin/main`.
        const findings = r.findings.map((f) => (released(f.against) === undefined ? f : { ...f, base: ref }));
        results.push({ ...r, findings, change: 'new' });
      } else if (!changed(before, c)) results.push({ ...plain(c, []), change: 'unchanged' });
      else {
        const findings = [...releaseFindings(before, c, ref), ...compareContracts(before, c, ['BACKWARD', 'FORWARD'], ref)];
        results.push({ ...plain(c, findings, [before.version]), change: 'changed' });
      }
    }
    for (const b of baseVersions) {
      if (UNRELEASED.has(b.status) || currentVersions.some((c) => c.version === b.version)) continue;
      const finding: CompatibilityFinding = {
        against: b.version,
        base: ref,
        direction: 'BOTH',
        kind: 'VERSION_REMOVED',
        path: '/',
        schemaPath: '',
        message: `its events may still be in outboxes, topics and warehouses; keep ${b.file.replace(/@[^@]*$/, '')} and set its status to deprecated or retired`,
      };
      results.push({ ...plain(b, [finding], [b.version]), change: 'removed' });
    }
  }
  return results.sort((a, b) => (a.contract === b.contract ? compareVersions(a.version, b.version) : a.contract < b.contract ? -1 : 1));
}

function plain(c: Contract, findings: CompatibilityFinding[], comparedWith: string[] = []): CompatibilityResult {
  return { contract: c.id, version: c.version, mode: c.compatibility, compatible: findings.length === 0, comparedWith, findings };
}

function changed(before: Contract, after: Contract): boolean {
  return (
    JSON.stringify(before.jsonSchema) !== JSON.stringify(after.jsonSchema) ||
    before.partitionKey !== after.partitionKey ||
    before.topic !== after.topic ||
    before.eventType !== after.eventType
  );
}

function releaseFindings(before: Contract, after: Contract, ref: string): CompatibilityFinding[] {
  const fields = [
    ['PARTITION_KEY_CHANGED', 'partition key', before.partitionKey, after.partitionKey, 'per-key order breaks between old and new events'],
    ['TOPIC_CHANGED', 'topic', before.topic, after.topic, 'consumers of the old topic stop receiving it'],
    ['EVENT_TYPE_CHANGED', 'event type', before.eventType, after.eventType, 'consumers routing on the type miss it'],
  ] as const;
  return fields
    .filter(([, , a, b]) => a !== b)
    .map(([kind, what, a, b, why]) => ({
      against: before.version,
      base: ref,
      direction: 'BOTH' as const,
      kind,
      path: '/',
      schemaPath: '',
      message: `${what} changed from '${a}' to '${b}'; ${why}`,
    }));
}
