// The built `herald` CLI as child processes of a benchmark: real `herald relay` and `herald load`
// processes, as an operator runs them, so that their drain rate and their memory are the
// product's (its flags, its defaults, its own event loop), not a library call's in the bench's
// process. Their peak memory is read from /proc, where the kernel keeps it.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BenchError, deferCleanup } from './common.js';

/** The built CLI (`npm run build` makes it; `npm run bench` builds first). */
export const HERALD_CLI = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));

/**
 * Node flags for the long-running CLI processes, from `BENCH_HERALD_NODE_ARGS` (space-separated),
 * e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile the relays a bench starts (Node refuses
 * `--cpu-prof` in NODE_OPTIONS).
 */
const NODE_ARGS = (process.env.BENCH_HERALD_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');

/** Fails with the fix when the CLI has not been built. */
export function requireBuiltCli(): void {
  if (!existsSync(HERALD_CLI)) throw new BenchError(`${HERALD_CLI} is missing: run npm run build (npm run bench does it first)`);
}

/**
 * Memory of a process from `/proc/<pid>/status`, in MiB: `peakRssMiB` is VmHWM, the largest
 * resident set the process has had since it started (the kernel keeps it, so no sample is
 * missed); `rssMiB` is VmRSS, the resident set now. Undefined where there is no /proc (not Linux)
 * or the process is gone.
 */
export function processMemory(pid: number): { peakRssMiB: number; rssMiB: number } | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const kib = (field: string): number | undefined => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    return m ? Number(m[1]) : undefined;
  };
  const hwm = kib('VmHWM');
  const rss = kib('VmRSS');
  if (hwm === undefined || rss === undefined) return undefined;
  return { peakRssMiB: Math.round((hwm / 1024) * 10) / 10, rssMiB: Math.round((rss / 1024) * 10) / 10 };
}

/**
 * Runs `herald <args>` to completion (e.g. `migrate`), and fails with its output when it exits
 * non-zero.
 */
export async function runHerald(args: readonly string[]): Promise<string> {
  const child = spawn(process.execPath, [HERALD_CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new BenchError(`herald ${args.join(' ')} exited with ${code}:\n${output.trim()}`);
  return output;
}

/** Whether `herald <command> --help` lists `flag`: lets a bench skip what the CLI cannot do yet. */
export async function heraldSupports(command: string, flag: string): Promise<boolean> {
  const help = await runHerald([command, '--help']);
  return help.includes(`${flag} `) || help.includes(`${flag}\n`) || help.includes(`${flag},`);
}

/**
 * A long-running `herald` process (`relay`, `load`) with `--json` logs kept in memory. It is
 * killed by the bench's cleanup if the bench ends (error, Ctrl-C) before {@link stop}.
 */
export class HeraldProcess {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  readonly #exited: Promise<number | string>;
  readonly #kill: () => Promise<void>;

  constructor(
    readonly name: string,
    args: readonly string[],
  ) {
    this.child = spawn(process.execPath, [...NODE_ARGS, HERALD_CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
    let partial = '';
    const onData = (d: Buffer): void => {
      partial += d.toString();
      const parts = partial.split('\n');
      partial = parts.pop()!;
      this.lines.push(...parts);
      // Only the tail explains a failure; a long drain must not keep every line.
      if (this.lines.length > 2000) this.lines.splice(0, this.lines.length - 1000);
    };
    this.child.stdout!.on('data', onData);
    this.child.stderr!.on('data', onData);
    this.#kill = deferCleanup(`kill ${name} (pid ${this.child.pid})`, async () => {
      if (this.running) this.child.kill('SIGKILL');
      await this.#exited;
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The last log lines, to explain a failure. */
  tail(n = 15): string {
    return this.lines.slice(-n).join('\n');
  }

  /** Waits for a log line containing `text`; fails with the tail of the log when the process exits or `ms` pass. */
  async waitForLog(text: string, ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.lines.some((l) => l.includes(text))) {
      if (!this.running)
        throw new BenchError(`${this.name} exited (${String(await this.#exited)}) before logging ${text}:\n${this.tail()}`);
      if (Date.now() > deadline) throw new BenchError(`${this.name} did not log ${text} within ${ms} ms:\n${this.tail()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Fails with the tail of the log if the process has exited. */
  assertRunning(): void {
    if (!this.running) throw new BenchError(`${this.name} exited (${this.child.exitCode ?? this.child.signalCode}):\n${this.tail()}`);
  }

  /** Peak and current resident memory (see {@link processMemory}). */
  memory(): { peakRssMiB: number; rssMiB: number } | undefined {
    return processMemory(this.pid);
  }

  /** SIGTERM (the CLI finishes its batch in flight and exits), SIGKILL after `graceMs`. */
  async stop(graceMs = 15_000): Promise<void> {
    if (this.running) this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.#exited;
    clearTimeout(timer);
    await this.#kill();
  }
}
