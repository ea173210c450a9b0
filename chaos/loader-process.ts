// A loader as a separate process (the built CLI's `herald load`), so that SIGKILL is real, and
// the read-back of its DuckDB warehouse: each committed event id must be there exactly once.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { onCleanup } from './cleanup.js';
import { CLI } from './relay-process.js';
import { waitUntil } from './util.js';

/** How to start one loader. */
export interface LoaderStart {
  readonly name: string;
  /** `kafka://127.0.0.1:<port>`. */
  readonly broker: string;
  /** The DuckDB file the loader writes. */
  readonly warehouseFile: string;
  /** Folder holding the contract routed to the run's topic (see {@link writeChaosContract}). */
  readonly contractsDir: string;
  readonly group: string;
  readonly logFile: string;
  readonly args?: readonly string[];
}

/** Writes the chaos contract, routed to `topic`, into `dir` (created). */
export function writeChaosContract(dir: string, topic: string): void {
  mkdirSync(dir, { recursive: true });
  const text = readFileSync(new URL('./contracts/chaos-event.v1.yaml', import.meta.url), 'utf8');
  writeFileSync(join(dir, 'chaos-event.v1.yaml'), text.replace('value: chaos.events', `value: ${topic}`));
}

/** One `herald load --json` child process; its log lines are kept and appended to `logFile`. */
export class LoaderProcess {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  readonly #exited: Promise<number | string>;

  private constructor(start: LoaderStart) {
    const log = createWriteStream(start.logFile, { flags: 'a' });
    const args = [
      CLI,
      'load',
      '--broker',
      start.broker,
      '--warehouse',
      `duckdb:${start.warehouseFile}`,
      '--contracts',
      start.contractsDir,
      '--group',
      start.group,
      '--json',
      ...(start.args ?? []),
    ];
    log.write(`--- ${new Date().toISOString()} ${start.name}: node ${args.slice(1).join(' ')}\n`);
    this.child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const unregister = onCleanup(
      `loader ${start.name}`,
      () => this.kill(),
      () => this.child.kill('SIGKILL'),
    );
    this.#exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        unregister();
        log.end();
        resolve(code ?? signal ?? -1);
      }),
    );
    let partial = '';
    const onData = (d: Buffer): void => {
      log.write(d);
      partial += d.toString();
      const parts = partial.split('\n');
      partial = parts.pop()!;
      this.lines.push(...parts);
    };
    this.child.stdout!.on('data', onData);
    this.child.stderr!.on('data', onData);
  }

  /** Spawns the loader and waits for 'loader started'; throws with its last lines otherwise. */
  static async start(start: LoaderStart, ms = 30_000): Promise<LoaderProcess> {
    const p = new LoaderProcess(start);
    const ok = await waitUntil(() => p.lines.some((l) => l.includes('"loader started"')) || !p.running, ms, 100);
    if (!ok || !p.running) {
      await p.kill();
      throw new Error(`${start.name} did not start within ${ms} ms:\n${p.lines.slice(-10).join('\n')}`);
    }
    return p;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGKILL, resolves when gone. */
  async kill(): Promise<void> {
    if (this.running) this.child.kill('SIGKILL');
    await this.#exited;
  }

  /** SIGTERM (commit the batch in hand, exit 0), SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<number | string> {
    if (this.running) this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    const code = await this.#exited;
    clearTimeout(timer);
    return code;
  }
}

/** What the warehouse holds against what the writers committed. */
export interface WarehouseCheck {
  readonly rows: number;
  readonly lost: number;
  readonly duplicates: number;
  /** Rows whose event id no writer committed (a rolled-back or foreign event). */
  readonly unknown: number;
  readonly lostExamples: readonly string[];
}

/** Every row of every table of the DuckDB file, as JSON text (the loader must be stopped). */
export async function warehouseText(file: string): Promise<string> {
  const db = await DuckDBInstance.create(file);
  const conn = await db.connect();
  try {
    const tables = (await conn.runAndReadAll('SELECT table_name FROM information_schema.tables')).getRowObjects();
    const out: string[] = [];
    for (const t of tables) {
      const rows = (await conn.runAndReadAll(`SELECT * FROM "${String(t.table_name)}"`)).getRowObjects();
      out.push(JSON.stringify({ table: t.table_name, rows }, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)));
    }
    return out.join('\n');
  } finally {
    conn.closeSync();
    db.closeSync();
  }
}

/**
 * Reads every `_event_id` of every table in the DuckDB file (the loader must be stopped: DuckDB
 * lets one process open a file for writing) and compares them with `committed`.
 */
export async function checkWarehouse(file: string, committed: Iterable<string>): Promise<WarehouseCheck> {
  const db = await DuckDBInstance.create(file);
  const conn = await db.connect();
  try {
    const tables = (await conn.runAndReadAll("SELECT table_name FROM information_schema.tables WHERE table_name NOT LIKE '%dead%'")).getRowObjects();
    const ids: string[] = [];
    for (const t of tables) {
      const cols = (await conn.runAndReadAll(`SELECT column_name FROM information_schema.columns WHERE table_name = '${String(t.table_name)}'`)).getRowObjects();
      if (!cols.some((c) => c.column_name === '_event_id')) continue;
      const rows = (await conn.runAndReadAll(`SELECT _event_id FROM "${String(t.table_name)}"`)).getRowObjects();
      ids.push(...rows.map((r) => String(r._event_id)));
    }
    const seen = new Set(ids);
    const want = new Set(committed);
    const lost = [...want].filter((id) => !seen.has(id));
    return {
      rows: ids.length,
      lost: lost.length,
      duplicates: ids.length - seen.size,
      unknown: [...seen].filter((id) => !want.has(id)).length,
      lostExamples: lost.slice(0, 5),
    };
  } finally {
    conn.closeSync();
    db.closeSync();
  }
}
