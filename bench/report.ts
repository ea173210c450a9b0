// Prints the markdown tables of bench/results/latest.json (or the file given), for the README:
// its figures are pasted from this output, so they are the file's. With --chart it also draws
// bench/results/chart.svg again from the same file (after a change to bench/chart.ts), and its
// summary, which is computed again from the raw result lines (after a change to bench/summary.ts).
//
//   node --import tsx bench/report.ts [--chart] [bench/results/latest.json]
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { renderChart } from './chart.js';
import { chartCaption, markdownReport, type ReportInput } from './report-table.js';
import { summarize, type BenchLine } from './summary.js';

const { values, positionals } = parseArgs({ options: { chart: { type: 'boolean', default: false } }, allowPositionals: true });
const file = positionals[0] ?? fileURLToPath(new URL('./results/latest.json', import.meta.url));
let report: ReportInput;
try {
  report = JSON.parse(await readFile(file, 'utf8')) as ReportInput;
} catch (err) {
  process.stderr.write(`cannot read ${file}: ${(err as Error).message}. Run npm run bench (or npm run bench -- --quick) first.\n`);
  process.exit(1);
}
// The figures are the raw lines'; only how they are summed up and labelled may have changed.
const benches = (report as { benches?: { results: BenchLine[] }[] }).benches;
if (benches) report = { ...report, summary: summarize(benches.flatMap((b) => b.results)) };
process.stdout.write(markdownReport(report));
if (values.chart) {
  await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
  const svg = fileURLToPath(new URL('./chart.svg', new URL(`file://${file.startsWith('/') ? file : `${process.cwd()}/${file}`}`)));
  await writeFile(svg, renderChart(report.summary, chartCaption(report)));
  process.stderr.write(`wrote ${svg}\n`);
}
