import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** One temp directory per test process; each test takes its own file in it. */
const DIR = mkdtempSync(join(tmpdir(), 'herald-sqlite-'));
let files = 0;

/** A fresh, not yet existing database file and its `sqlite:` URL. */
export function freshSqlite(name = 'outbox'): { file: string; url: string } {
  const file = join(DIR, `${name}-${++files}.db`);
  return { file, url: `sqlite:${file}` };
}

/** The file of a `sqlite:` URL (tests only use absolute paths). */
export function fileOf(url: string): string {
  return decodeURIComponent(new URL(url).pathname);
}
