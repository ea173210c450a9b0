// Prints the markdown tables of bench/results/latest.json (or the file given), for the README:
// its figures are pasted from this output, so they are the file's.
//
//   node --import tsx bench/report.ts [bench/results/latest.json]
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { markdownReport, type ReportInput } from './report-table.js';

const file = process.argv[2] ?? fileURLToPath(new URL('./results/latest.json', import.meta.url));
let report: ReportInput;
try {
  report = JSON.parse(await readFile(file, 'utf8')) as ReportInput;
} catch (err) {
  process.stderr.write(`cannot read ${file}: ${(err as Error).message}. Run npm run bench (or npm run bench -- --quick) first.\n`);
  process.exit(1);
}
process.stdout.write(markdownReport(report));
