// Prints the markdown tables of bench/results/latest.json (or the file given), for the README:
// its figures are pasted from this output, so they are the file's. With --chart it also draws
// bench/results/chart.svg again from the same file (after a change to bench/chart.ts).
//
//   node --import tsx bench/report.ts [--chart] [bench/results/latest.json]
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { renderChart } from './chart.js';
import { chartCaption, markdownReport, type ReportInput } from './report-table.js';

const { values, positionals } = parseArgs({ options: { chart: { type: 'boolean', default: false } }, allowPositionals: true });
const file = positionals[0] ?? fileURLToPath(new URL('./results/latest.json', import.meta.url));
let report: ReportInput;
try {
  report = JSON.parse(await readFile(file, 'utf8')) as ReportInput;
} catch (err) {
  process.stderr.write(`cannot read ${file}: ${(err as Error).message}. Run npm run bench (or npm run bench -- --quick) first.\n`);
  process.exit(1);
}
process.stdout.write(markdownReport(report));
if (values.chart) {
  const svg = fileURLToPath(new URL('./chart.svg', new URL(`file://${file.startsWith('/') ? file : `${process.cwd()}/${file}`}`)));
  await writeFile(svg, renderChart(report.summary, chartCaption(report)));
  process.stderr.write(`wrote ${svg}\n`);
}
