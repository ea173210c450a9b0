// The chart of one `npm run bench` run, as a hand-written SVG (no chart library): every
// throughput as a bar of its ratio to the ceiling, with a line at 1.0 and a mark at the goal;
// the latency percentiles per source and rate, with the p99 goal; the scale curve of relay
// processes; the peak memory with its goal. Everything drawn comes from a {@link Summary}.
import type { Summary } from './summary.js';

const WIDTH = 960;
const LABEL_W = 330;
const PLOT_X = LABEL_W + 10;
const PLOT_W = WIDTH - PLOT_X - 70;
const ROW_H = 22;
const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"';

/** Escapes text for an SVG text node or attribute. */
export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

const f = (x: number): string => (Math.round(x * 10) / 10).toString();
/** Labels longer than the label column (about 6.2 px a character at 12 px) end in an ellipsis; the full text stays in `data-label`. */
const MAX_LABEL = 52;
const clip = (text: string): string => (text.length <= MAX_LABEL ? text : `${text.slice(0, MAX_LABEL - 1)}…`);
/** A round number at or above `x` (1, 2 or 5 times a power of ten), for axis ends. */
function niceCeil(x: number): number {
  const p = 10 ** Math.floor(Math.log10(Math.max(x, 1e-9)));
  return ([1, 2, 5, 10].find((m) => m * p >= x) ?? 10) * p;
}
const fmt = (x: number, digits = 2): string => x.toFixed(digits);

interface Panel {
  readonly svg: string;
  readonly height: number;
}

function heading(y: number, text: string, note?: string): string {
  return (
    `<text x="10" y="${y}" font-size="15" font-weight="600" ${FONT}>${escapeXml(text)}</text>` +
    (note ? `<text x="10" y="${y + 16}" font-size="11" fill="#555" ${FONT}>${escapeXml(note)}</text>` : '')
  );
}

/** Vertical grid line with its value under the plot. */
function tick(x: number, top: number, bottom: number, label: string, stroke = '#ddd', dash = ''): string {
  return (
    `<line x1="${f(x)}" y1="${top}" x2="${f(x)}" y2="${bottom}" stroke="${stroke}"${dash ? ` stroke-dasharray="${dash}"` : ''}/>` +
    `<text x="${f(x)}" y="${bottom + 13}" font-size="10" text-anchor="middle" fill="#555" ${FONT}>${escapeXml(label)}</text>`
  );
}

function ratioPanel(s: Summary, top: number): Panel {
  const y0 = top + 30;
  if (s.ratios.length === 0) return { svg: heading(top + 15, 'Ratios to ceilings') + noData(y0), height: 60 };
  // One block per ceiling, in the order the ceilings first appear, under a line that names it.
  const ceilings = [...new Set(s.ratios.map((r) => r.ceiling))];
  const lines: ({ kind: 'ceiling'; text: string } | { kind: 'ratio'; r: Summary['ratios'][number] })[] = ceilings.flatMap((c) => [
    { kind: 'ceiling' as const, text: `divided by: ${c}` },
    ...s.ratios.filter((r) => r.ceiling === c).map((r) => ({ kind: 'ratio' as const, r })),
  ]);
  const maxValue = Math.max(1.2, ...s.ratios.map((r) => r.value), ...s.ratios.map((r) => r.goal ?? 0));
  const scaleMax = Math.ceil(maxValue * 5) / 5;
  const x = (v: number): number => PLOT_X + (Math.min(v, scaleMax) / scaleMax) * PLOT_W;
  const bottom = y0 + lines.length * ROW_H;
  const parts = [
    heading(top + 15, 'Throughput as a ratio to its ceiling (same run)', 'bar = Herald / ceiling; black line = 1.0; red mark = goal'),
  ];
  for (let v = 0; v <= scaleMax + 1e-9; v += 0.2) if (Math.abs(v - 1) > 1e-9) parts.push(tick(x(v), y0, bottom, fmt(v, 1)));
  lines.forEach((line, i) => {
    const y = y0 + i * ROW_H;
    if (line.kind === 'ceiling') {
      parts.push(
        `<text data-kind="ceiling" x="${LABEL_W}" y="${y + 16}" font-size="12" font-style="italic" text-anchor="end" fill="#555" ${FONT}>${escapeXml(line.text)}</text>`,
      );
      return;
    }
    const r = line.r;
    const met = r.goal === undefined || r.value >= r.goal;
    parts.push(
      `<text x="${LABEL_W}" y="${y + 15}" font-size="12" text-anchor="end" ${FONT}>${escapeXml(clip(r.label))}</text>`,
      `<rect data-kind="ratio-bar" data-label="${escapeXml(r.label)}" data-value="${r.value}" x="${PLOT_X}" y="${y + 4}" width="${f(x(r.value) - PLOT_X)}" height="${ROW_H - 8}" fill="${met ? '#4a90d9' : '#e8a33d'}"/>`,
      `<text x="${f(x(r.value) + 4)}" y="${y + 15}" font-size="11" ${FONT}>${fmt(r.value)}</text>`,
    );
    if (r.goal !== undefined)
      parts.push(
        `<line data-kind="goal" data-goal="${r.goal}" x1="${f(x(r.goal))}" y1="${y + 1}" x2="${f(x(r.goal))}" y2="${y + ROW_H - 1}" stroke="#d0021b" stroke-width="2"/>`,
      );
  });
  parts.push(`<line data-kind="one" x1="${f(x(1))}" y1="${y0 - 4}" x2="${f(x(1))}" y2="${bottom}" stroke="#000" stroke-width="1.5"/>`);
  parts.push(`<text x="${f(x(1))}" y="${bottom + 13}" font-size="10" text-anchor="middle" ${FONT}>1.0</text>`);
  return { svg: parts.join('\n'), height: bottom - top + 30 };
}

function latencyPanel(s: Summary, top: number): Panel {
  const rows = s.latency;
  const y0 = top + 30;
  const title = 'Latency, commit → Kafka consumer';
  if (rows.length === 0) return { svg: heading(top + 15, title) + noData(y0), height: 60 };
  const goal = s.latencyGoalP99Ms;
  const maxMs = Math.max(goal * 1.2, ...rows.map((r) => r.p99));
  // A log scale: a p99 of seconds on a loaded machine must not flatten the milliseconds.
  const lo = 1;
  // The value text goes right of the bar: leave it room.
  const w = PLOT_W - 120;
  const x = (ms: number): number => PLOT_X + (Math.log10(Math.max(lo, ms) / lo) / Math.log10(maxMs / lo)) * w;
  const bottom = y0 + rows.length * ROW_H;
  const parts = [heading(top + 15, title, `light bar = p50, dark bar = p99 (log scale, ms); red line = p99 goal ${goal} ms`)];
  for (const v of [1, 10, 100, 1000, 10000, 100000]) if (v <= maxMs) parts.push(tick(x(v), y0, bottom, `${v}`));
  rows.forEach((r, i) => {
    const y = y0 + i * ROW_H;
    const label = `${r.variant} @ ${r.rateSpec} (${Math.round(r.rate)}/s asked, ${Math.round(r.achievedRate)}/s done)`;
    parts.push(
      `<text x="${LABEL_W}" y="${y + 15}" font-size="12" text-anchor="end" ${FONT}>${escapeXml(clip(label))}</text>`,
      `<rect data-kind="latency-p99" data-label="${escapeXml(`${r.variant} ${r.rateSpec}`)}" data-value="${r.p99}" x="${PLOT_X}" y="${y + 4}" width="${f(x(r.p99) - PLOT_X)}" height="${ROW_H - 8}" fill="${r.p99 <= goal ? '#2e6fb7' : '#c0392b'}"/>`,
      `<rect data-kind="latency-p50" data-label="${escapeXml(`${r.variant} ${r.rateSpec}`)}" data-value="${r.p50}" x="${PLOT_X}" y="${y + 7}" width="${f(x(r.p50) - PLOT_X)}" height="${ROW_H - 14}" fill="#a9c9ee"/>`,
      `<text x="${f(x(r.p99) + 4)}" y="${y + 15}" font-size="11" ${FONT}>p50 ${f(r.p50)} · p99 ${f(r.p99)} ms</text>`,
    );
  });
  parts.push(
    `<line data-kind="goal" data-goal="${goal}" x1="${f(x(goal))}" y1="${y0 - 4}" x2="${f(x(goal))}" y2="${bottom}" stroke="#d0021b" stroke-width="2" stroke-dasharray="5,3"/>`,
  );
  return { svg: parts.join('\n'), height: bottom - top + 30 };
}

function scalePanel(s: Summary, top: number): Panel {
  const title = 'Scale: drain rate by polling relay processes (one outbox, buckets)';
  const y0 = top + 34;
  if (s.scale.length === 0) return { svg: heading(top + 15, title) + noData(y0), height: 60 };
  const h = 180;
  const bottom = y0 + h;
  const maxK = Math.max(...s.scale.map((p) => p.processes));
  const maxRate = niceCeil(Math.max(...s.scale.map((p) => p.eventsPerSec)) * 1.1);
  const x = (k: number): number => PLOT_X + (maxK === 1 ? 0.5 : (k - 1) / (maxK - 1)) * PLOT_W;
  const y = (rate: number): number => bottom - (rate / maxRate) * h;
  const parts = [heading(top + 15, title, 'events/s per process count; one line per variant')];
  parts.push(`<line x1="${PLOT_X}" y1="${bottom}" x2="${PLOT_X + PLOT_W}" y2="${bottom}" stroke="#999"/>`);
  parts.push(`<line x1="${PLOT_X}" y1="${y0}" x2="${PLOT_X}" y2="${bottom}" stroke="#999"/>`);
  for (const k of [...new Set(s.scale.map((p) => p.processes))]) parts.push(tick(x(k), y0, bottom, `${k}`));
  parts.push(`<text x="${PLOT_X - 8}" y="${y0 + 4}" font-size="10" text-anchor="end" fill="#555" ${FONT}>${Math.round(maxRate)}</text>`);
  parts.push(`<text x="${PLOT_X - 8}" y="${bottom}" font-size="10" text-anchor="end" fill="#555" ${FONT}>0</text>`);
  const colours = ['#4a90d9', '#7b61ff', '#2a9d8f', '#e76f51'];
  [...new Set(s.scale.map((p) => p.variant))].forEach((variant, vi) => {
    const points = s.scale.filter((p) => p.variant === variant).sort((a, b) => a.processes - b.processes);
    const colour = colours[vi % colours.length]!;
    parts.push(
      `<polyline data-kind="scale-line" data-variant="${escapeXml(variant)}" fill="none" stroke="${colour}" stroke-width="2" points="${points.map((p) => `${f(x(p.processes))},${f(y(p.eventsPerSec))}`).join(' ')}"/>`,
    );
    for (const p of points)
      parts.push(
        `<circle data-kind="scale-point" data-processes="${p.processes}" data-value="${p.eventsPerSec}" cx="${f(x(p.processes))}" cy="${f(y(p.eventsPerSec))}" r="4" fill="${colour}"/>`,
        `<text x="${f(x(p.processes) + 6)}" y="${f(y(p.eventsPerSec) - 6)}" font-size="11" ${FONT}>${Math.round(p.eventsPerSec)}</text>`,
      );
    parts.push(
      `<text x="${PLOT_X - 50}" y="${y0 + 30 + vi * 16}" font-size="12" text-anchor="end" fill="${colour}" ${FONT}>${escapeXml(clip(variant))}</text>`,
    );
  });
  parts.push(
    `<text x="${PLOT_X + PLOT_W / 2}" y="${bottom + 28}" font-size="11" text-anchor="middle" fill="#555" ${FONT}>relay processes</text>`,
  );
  return { svg: parts.join('\n'), height: bottom - top + 40 };
}

function memoryPanel(s: Summary, top: number): Panel {
  const title = 'Peak memory (VmHWM)';
  const y0 = top + 30;
  if (s.memory.length === 0) return { svg: heading(top + 15, title) + noData(y0), height: 60 };
  const maxMiB = Math.max(...s.memory.map((m) => Math.max(m.peakRssMiB, m.goal ?? 0))) * 1.15;
  const x = (mib: number): number => PLOT_X + (mib / maxMiB) * PLOT_W;
  const bottom = y0 + s.memory.length * ROW_H;
  const parts = [heading(top + 15, title, 'MiB; red mark = goal')];
  s.memory.forEach((m, i) => {
    const y = y0 + i * ROW_H;
    parts.push(
      `<text x="${LABEL_W}" y="${y + 15}" font-size="12" text-anchor="end" ${FONT}>${escapeXml(clip(`${m.label} of ${m.events.toLocaleString('en-US')} events`))}</text>`,
      `<rect data-kind="memory-bar" data-label="${escapeXml(m.label)}" data-value="${m.peakRssMiB}" x="${PLOT_X}" y="${y + 4}" width="${f(x(m.peakRssMiB) - PLOT_X)}" height="${ROW_H - 8}" fill="${m.goal === undefined || m.peakRssMiB <= m.goal ? '#4a90d9' : '#e8a33d'}"/>`,
      `<text x="${f(x(m.peakRssMiB) + 4)}" y="${y + 15}" font-size="11" ${FONT}>${f(m.peakRssMiB)} MiB</text>`,
    );
    if (m.goal !== undefined)
      parts.push(
        `<line data-kind="goal" data-goal="${m.goal}" x1="${f(x(m.goal))}" y1="${y + 1}" x2="${f(x(m.goal))}" y2="${y + ROW_H - 1}" stroke="#d0021b" stroke-width="2"/>`,
      );
  });
  return { svg: parts.join('\n'), height: bottom - top + 20 };
}

function noData(y: number): string {
  return `<text x="${PLOT_X}" y="${y + 10}" font-size="12" fill="#888" ${FONT}>no figures in this run</text>`;
}

/**
 * The whole chart as an SVG document. `caption` (e.g. the machine and the command) goes under the
 * title; a panel without figures says so instead of drawing an empty axis.
 */
export function renderChart(summary: Summary, caption: string): string {
  let y = 46;
  const panels: string[] = [];
  for (const panel of [ratioPanel, latencyPanel, scalePanel, memoryPanel]) {
    const p = panel(summary, y);
    panels.push(`<g>\n${p.svg}\n</g>`);
    y += p.height + 16;
  }
  return (
    // One element a line, so a re-run's diff shows which figures moved.
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${y}" viewBox="0 0 ${WIDTH} ${y}">\n` +
    `<rect width="100%" height="100%" fill="#fff"/>\n` +
    `<text x="10" y="20" font-size="17" font-weight="700" ${FONT}>Herald benchmarks</text>\n` +
    `<text x="10" y="36" font-size="11" fill="#555" ${FONT}>${escapeXml(caption)}</text>\n` +
    panels.join('\n') +
    `\n</svg>\n`
  );
}
