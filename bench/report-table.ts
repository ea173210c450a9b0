// The figures of one `npm run bench` run as markdown tables, for the README: pasted from
// bench/results/latest.json through bench/report.ts, so the README says what the file says.
import type { Summary } from './summary.js';

/** What {@link markdownReport} needs from latest.json. */
export interface ReportInput {
  readonly summary: Summary;
  readonly machine: Record<string, unknown>;
  readonly date: string;
  readonly command: string;
  readonly quick: boolean;
}

const row = (cells: readonly (string | number)[]): string => `| ${cells.join(' | ')} |`;
const head = (cells: readonly string[]): string => `${row(cells)}\n${row(cells.map(() => '---'))}`;
const met = (ok: boolean): string => (ok ? 'met' : 'not met');

/** The machine in one line: cores, memory, load, Node, PostgreSQL, Kafka. */
export function machineLine(m: Record<string, unknown>): string {
  const load = Array.isArray(m.loadAverageStart) ? (m.loadAverageStart as number[]).map((x) => x.toFixed(2)).join(' ') : '?';
  const kafka = (m.kafka ?? {}) as Record<string, unknown>;
  return [
    `${String(m.cores ?? '?')} cores (${String(m.cpuModel ?? '?')})`,
    `${String(m.memoryGiB ?? '?')} GiB`,
    `load ${load} at start`,
    `Node ${String(m.node ?? '?')}`,
    `PostgreSQL ${String(m.postgres ?? '?').split(' ')[0]}`,
    `Kafka ${String(kafka.version ?? '?')}`,
  ].join(', ');
}

/** The chart's caption: which run, when, on what machine. */
export function chartCaption(r: Pick<ReportInput, 'quick' | 'date' | 'machine'>): string {
  return `${r.quick ? 'quick run (noisy)' : 'full run'} · ${r.date.slice(0, 16).replace('T', ' ')} UTC · ${machineLine(r.machine)}`;
}

/** Markdown: where it ran, then one table per kind of figure (ratios, latency, scale, memory). */
export function markdownReport(r: ReportInput): string {
  const s = r.summary;
  const out: string[] = [];
  out.push(
    `${r.quick ? '**quick run** (small sizes, noisy: not figures to quote)' : 'Full run'} of \`${r.command}\` on ${r.date.slice(0, 16).replace('T', ' ')} UTC; ` +
      `${machineLine(r.machine)}.`,
  );
  if (s.ratios.length > 0) {
    out.push(
      '',
      head(['figure', 'ceiling (same run)', 'ratio', 'goal', '']),
      ...s.ratios.map((x) =>
        row([
          x.label,
          x.ceiling,
          x.value.toFixed(2),
          x.goal === undefined ? '—' : `≥ ${x.goal}`,
          x.goal === undefined ? '' : met(x.value >= x.goal),
        ]),
      ),
    );
  }
  if (s.latency.length > 0) {
    out.push(
      '',
      head([
        'source',
        'rate',
        'asked events/s',
        'achieved events/s',
        'p50 ms',
        'p90 ms',
        'p99 ms',
        'max ms',
        `p99 ≤ ${s.latencyGoalP99Ms} ms`,
      ]),
      ...s.latency.map((x) =>
        row([
          x.variant,
          x.rateSpec,
          Math.round(x.rate),
          Math.round(x.achievedRate),
          x.p50,
          x.p90,
          x.p99,
          x.max,
          met(x.p99 <= s.latencyGoalP99Ms),
        ]),
      ),
    );
  }
  if (s.scale.length > 0) {
    const variants = [...new Set(s.scale.map((p) => p.variant))];
    for (const variant of variants) {
      const points = s.scale.filter((p) => p.variant === variant).sort((a, b) => a.processes - b.processes);
      const base = points[0]!.eventsPerSec;
      out.push(
        '',
        head([`relay processes${variants.length > 1 ? ` (${variant})` : ''}`, 'events/s', `vs ${points[0]!.processes}`]),
        ...points.map((p) => row([p.processes, Math.round(p.eventsPerSec), (p.eventsPerSec / base).toFixed(2)])),
      );
    }
  }
  if (s.memory.length > 0) {
    out.push(
      '',
      head(['process', 'events', 'peak RSS MiB', 'goal', '']),
      ...s.memory.map((m) =>
        row([
          m.label,
          m.events.toLocaleString('en-US'),
          m.peakRssMiB,
          m.goal === undefined ? '—' : `≤ ${m.goal}`,
          m.goal === undefined ? '' : met(m.peakRssMiB <= m.goal),
        ]),
      ),
    );
  }
  return `${out.join('\n')}\n`;
}
