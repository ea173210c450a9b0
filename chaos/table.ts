// The table `npm run chaos` prints (and the README shows): one line per scenario and source.
import type { RowResult } from './harness.js';

const COLUMNS: { title: string; cell: (r: RowResult) => string }[] = [
  { title: 'scenario', cell: (r) => r.title },
  { title: 'source', cell: (r) => r.source },
  { title: 'broker', cell: (r) => r.broker },
  { title: 'expected', cell: (r) => r.expected },
  { title: 'committed', cell: (r) => String(r.committed) },
  { title: 'lost', cell: (r) => String(r.lost) },
  { title: 'duplicates', cell: (r) => String(r.duplicates) },
  { title: 'reorders', cell: (r) => String(r.reorders) },
  { title: 'rolled-back delivered', cell: (r) => String(r.rolledBackDelivered) },
  { title: 'max delay s', cell: (r) => r.maxDelayS.toFixed(1) },
  { title: 'recovery s', cell: (r) => (r.recoveryS === null ? '-' : r.recoveryS.toFixed(1)) },
  { title: 'verdict', cell: (r) => (r.reason ? `${r.verdict}: ${r.reason}` : r.verdict) },
];

/** A Markdown table of `rows` (it reads as plain text in a terminal too). */
export function markdownTable(rows: readonly RowResult[]): string {
  const cells = rows.map((r) => COLUMNS.map((c) => c.cell(r).replace(/\|/g, '\\|')));
  const widths = COLUMNS.map((c, i) => Math.max(c.title.length, ...cells.map((row) => row[i]!.length)));
  const line = (values: string[]): string => `| ${values.map((v, i) => v.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(COLUMNS.map((c) => c.title)), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}
