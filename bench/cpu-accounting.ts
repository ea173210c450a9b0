// Where the machine's CPU went during a timed step: this process, the PostgreSQL server, the
// Kafka broker, everything else, and idle. Read from /proc (Linux only), so a bench can show
// whether a ratio is bound by its own code or by the cores it shares with the servers.
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

/** CPU seconds spent so far, per part of the machine. */
interface CpuSnapshot {
  readonly bench: number;
  readonly postgres: number;
  readonly kafka: number;
  /** Busy and idle seconds of all cores, from /proc/stat. */
  readonly machineBusy: number;
  readonly machineIdle: number;
  /** CPU seconds of the processes asked for by name (see {@link cpuSnapshot}). */
  readonly named: Readonly<Record<string, number>>;
}

/** CPU seconds per part over one step, and the share of the machine's cores each used. */
export interface CpuUse {
  /** The fixed parts, then one entry per named process; `other` leaves the named ones out. */
  readonly seconds: Record<'bench' | 'postgres' | 'kafka' | 'other' | 'idle', number> & Record<string, number>;
  /** Cores busy on average over the step (2.0 = both cores of a 2-core machine all the time). */
  readonly busyCores: number;
}

const TICK = 100; // USER_HZ: clock ticks per second in /proc, 100 on every Linux we run on

/**
 * The CPU seconds of a process; with `reaped`, also those of its children that ended and were
 * waited for (the postmaster's: a backend whose connection closed before the step ended).
 */
function processSeconds(pid: string, reaped = false): number {
  try {
    // Fields after the command name, which may hold spaces, so split after its closing paren.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const own = Number(fields[11]) + Number(fields[12]); // utime + stime
    return (reaped ? own + Number(fields[13]) + Number(fields[14]) : own) / TICK; // + cutime + cstime
  } catch {
    return 0; // the process ended between listing and reading: its time is gone with it
  }
}

/**
 * Reads the CPU seconds of the bench, every `postgres` process, the Kafka broker and all cores;
 * `named` counts the processes of the given pids under their own names instead (a writer child,
 * a PostgreSQL walsender: no longer in `other` or `postgres`).
 */
function cpuSnapshot(named: Readonly<Record<string, number>> = {}): CpuSnapshot {
  let postgres = 0;
  let kafka = 0;
  const namedPids = new Set(Object.values(named).map(String));
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid) || namedPids.has(pid)) continue;
    let comm: string;
    try {
      comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    } catch {
      continue;
    }
    if (comm === 'postgres') postgres += processSeconds(pid, true);
    else if (comm === 'java' && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('kafka.Kafka')) kafka += processSeconds(pid);
  }
  // cpu  user nice system idle iowait irq softirq steal ...
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const idle = cpu[3]! + cpu[4]!;
  const busy = cpu.slice(0, 8).reduce((a, b) => a + b, 0) - idle;
  const self = process.cpuUsage();
  return {
    bench: (self.user + self.system) / 1e6,
    postgres,
    kafka,
    machineBusy: busy / TICK,
    machineIdle: idle / TICK,
    named: Object.fromEntries(Object.entries(named).map(([name, pid]) => [name, processSeconds(String(pid))])),
  };
}

/**
 * The CPU used between two snapshots, rounded to 10 ms. `measured` adds CPU seconds a process
 * measured itself over the same step (one that may have ended before `b` was taken), by name.
 */
function cpuBetween(a: CpuSnapshot, b: CpuSnapshot, wallSeconds: number, measured: Readonly<Record<string, number>> = {}): CpuUse {
  const r = (x: number): number => Math.round(x * 100) / 100;
  const bench = b.bench - a.bench;
  const postgres = b.postgres - a.postgres;
  const kafka = b.kafka - a.kafka;
  const busy = b.machineBusy - a.machineBusy;
  const named: Record<string, number> = { ...measured };
  for (const name of Object.keys(b.named)) named[name] = b.named[name]! - (a.named[name] ?? 0);
  const namedTotal = Object.values(named).reduce((x, y) => x + y, 0);
  return {
    seconds: {
      bench: r(bench),
      postgres: r(postgres),
      kafka: r(kafka),
      ...Object.fromEntries(Object.entries(named).map(([name, s]) => [name, r(s)])),
      other: r(Math.max(0, busy - bench - postgres - kafka - namedTotal)),
      idle: r(b.machineIdle - a.machineIdle),
    },
    busyCores: r(busy / wallSeconds),
  };
}

/**
 * Starts measuring one timed step; `stop()` returns the CPU each part used since, and the busy
 * cores over the step's wall time. `named` are processes counted under their own names (see
 * {@link cpuSnapshot}); `measured`, CPU seconds a process measured itself over the step.
 */
export function cpuMeter(named: Readonly<Record<string, number>> = {}): { stop(measured?: Readonly<Record<string, number>>): CpuUse } {
  const before = cpuSnapshot(named);
  const started = performance.now();
  return { stop: (measured = {}) => cpuBetween(before, cpuSnapshot(named), (performance.now() - started) / 1000, measured) };
}

/** CPU milliseconds per 1,000 events for each part, from a step that moved `events`. */
export function perThousand(use: CpuUse, events: number): CpuUse['seconds'] {
  const per = (s: number): number => Math.round(((s * 1e6) / events) * 10) / 10;
  return Object.fromEntries(Object.entries(use.seconds).map(([part, s]) => [part, per(s)])) as CpuUse['seconds'];
}
