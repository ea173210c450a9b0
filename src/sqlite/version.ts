import { HeraldError, ErrorCodes } from '../errors.js';

/**
 * The oldest SQLite library the store runs on, and why: `RETURNING` (3.35.0) for the lease claim
 * and STORED generated columns (3.31.0) for the bucket every writer agrees on. better-sqlite3 12
 * bundles a much newer SQLite; an older one appears only when better-sqlite3 is built against a
 * system library.
 */
export const MINIMUM_SQLITE_VERSION = [3, 35, 0] as const;

/**
 * Throws `CONFIG_INVALID` naming the library's version (`sqlite_version()`) and what Herald needs
 * when it is older than {@link MINIMUM_SQLITE_VERSION} or unreadable. Pure, so the rule is tested
 * with version strings instead of old libraries.
 */
export function checkSqliteVersion(text: string): void {
  const needed = `SQLite ${MINIMUM_SQLITE_VERSION.join('.')} or later (for RETURNING and STORED generated columns); better-sqlite3 12 bundles one`;
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(text);
  if (!m) throw new HeraldError(ErrorCodes.CONFIG_INVALID, `cannot read the sqlite version '${text.slice(0, 80)}'; herald needs ${needed}`);
  const [major, minor, patch] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const [a, b, c] = MINIMUM_SQLITE_VERSION;
  const ok = major !== a ? major > a : minor !== b ? minor > b : patch >= c;
  if (!ok) {
    throw new HeraldError(ErrorCodes.CONFIG_INVALID, `the sqlite library is version ${text}; herald needs ${needed}`, {
      details: { sqliteVersion: text },
    });
  }
}
