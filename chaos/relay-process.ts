// A relay as a separate process (the built CLI), so that SIGKILL, SIGSTOP and SIGCONT are real.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { onCleanup } from './cleanup.js';
import { alive, waitUntil } from './util.js';

/** The built CLI; `npm run build` makes it. */
export const CLI = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));

/** How to start one relay. */
export interface RelayStart {
  /** Label in logs and notes, e.g. `relay-a`. */
  readonly name: string;
  readonly source: 'polling' | 'logical';
  /** PostgreSQL URL the relay uses (the scenario's PG proxy). */
  readonly database: string;
  /** Broker URL the relay uses (`kafka://127.0.0.1:<proxy port>`). */
  readonly broker: string;
  readonly schema: string;
  /** More `herald relay` flags, e.g. `['--lease', '3000']`. */
  readonly args?: readonly string[];
  /** File the relay's stdout and stderr are appended to. */
  readonly logFile: string;
  /** Extra environment (e.g. LD_PRELOAD for faketime). */
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * One `herald relay` child process with `--json` logs. Its log lines are kept in memory (for
 * {@link waitForLog}) and appended to `logFile`. Signals go to the process itself: the relay is
 * one Node process, so a stop or a kill reaches everything it runs.
 */
export class RelayProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  readonly #log: WriteStream;
  readonly #exited: Promise<number | string>;

  private constructor(start: RelayStart) {
    this.name = start.name;
    this.#log = createWriteStream(start.logFile, { flags: 'a' });
    const args = [
      CLI,
      'relay',
      '--source',
      start.source,
      '--database',
      start.database,
      '--schema',
      start.schema,
      '--broker',
      start.broker,
      '--json',
      ...(start.args ?? []),
    ];
    this.child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...start.env } });
    // A relay must not outlive the suite (Ctrl-C, a crash of the runner): it would keep retrying
    // against ports that other processes may take next.
    const unregister = onCleanup(
      `relay ${this.name}`,
      () => this.kill(),
      () => this.signal('SIGKILL'),
    );
    this.#exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        unregister();
        resolve(code ?? signal ?? -1);
      }),
    );
    let partial = '';
    const onData = (d: Buffer): void => {
      this.#log.write(d);
      partial += d.toString();
      const parts = partial.split('\n');
      partial = parts.pop()!;
      this.lines.push(...parts);
    };
    this.child.stdout!.on('data', onData);
    this.child.stderr!.on('data', onData);
    // The command line, with any password in a URL masked (the credentials row uses one).
    const shown = args.slice(1).map((a) => a.replace(/\/\/([^:/@]+):[^@/]*@/, '//$1:***@'));
    this.#log.write(`--- ${new Date().toISOString()} ${this.name}: node ${shown.join(' ')}\n`);
  }

  /** Spawns the relay; does not wait for it (see {@link started}). */
  static spawn(start: RelayStart): RelayProcess {
    return new RelayProcess(start);
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Whether the process has not exited. */
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves with the exit code or signal. */
  exited(): Promise<number | string> {
    return this.#exited;
  }

  /** Waits for a log line containing `text`; false after `ms` or when the process exited. */
  waitForLog(text: string, ms: number): Promise<boolean> {
    return waitUntil(
      () => {
        if (this.lines.some((l) => l.includes(text))) return true;
        if (!this.running) throw new Error('exited');
        return false;
      },
      ms,
      100,
    );
  }

  /** Waits until the relay logged 'relay started'; throws with its last lines otherwise. */
  async started(ms = 30_000): Promise<void> {
    if (!(await this.waitForLog('"relay started"', ms))) {
      throw new Error(
        `${this.name} did not start within ${ms} ms (exit ${String(this.child.exitCode ?? this.child.signalCode)}):\n${this.lines.slice(-15).join('\n')}`,
      );
    }
  }

  /** Sends a signal (SIGKILL, SIGSTOP, SIGCONT, SIGTERM); ignored once the process is gone. */
  signal(signal: NodeJS.Signals): void {
    if (this.running && alive(this.pid)) this.child.kill(signal);
  }

  /** SIGKILL, and resolves when it is gone. */
  async kill(): Promise<void> {
    this.signal('SIGCONT');
    this.signal('SIGKILL');
    await this.#exited;
  }

  /** SIGTERM (drain and exit 0), SIGKILL after `graceMs`. Resolves when gone. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.signal('SIGCONT');
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    await this.#exited;
    clearTimeout(timer);
    this.#log.end();
  }

  /** Count of log lines containing `text`. */
  count(text: string): number {
    return this.lines.filter((l) => l.includes(text)).length;
  }
}
